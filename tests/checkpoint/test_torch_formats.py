"""PyTorch .pt (zip + legacy), .safetensors and ONNX from really trained models."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bnguard.checkpoint import inspect

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("good,frozen", [("good", "frozen"), ("good_legacy", "frozen_legacy"),
                                         ("good_st", "frozen_st")])
def test_trained_is_ok_and_eval_mode_training_is_never_updated(torch_ckpts, train_steps, good, frozen):
    ok = inspect(torch_ckpts[good])
    assert ok.ok and ok.verdicts() == {"1": "ok", "5": "ok"}
    assert ok["1"].data["num_batches_tracked"] == train_steps and ok["1"].data["channels"] == 4

    bad = inspect(torch_ckpts[frozen])
    assert not bad.ok
    assert bad.verdicts() == {"1": "never-updated", "5": "never-updated"}
    assert bad.summary.startswith("2 of 2 BN layers were never updated")
    assert "BN301" in bad.summary


def test_stats_match_the_model(torch_ckpts):
    sd = torch.load(torch_ckpts["good"], weights_only=True)
    r = inspect(torch_ckpts["good_st"])["1"]
    assert r.data["mean_max"] == pytest.approx(sd["1.running_mean"].max().item())
    assert r.data["var_min"] == pytest.approx(sd["1.running_var"].min().item())


def test_ema_copy_with_init_stats_is_found_next_to_the_live_model(torch_ckpts):
    rep = inspect(torch_ckpts["with_ema"])
    v = rep.verdicts()
    assert v["model.1"] == "ok" and v["model.5"] == "ok"
    assert v["ema.1"] == "never-updated" and v["ema.5"] == "never-updated"
    assert "optimizer" not in " ".join(v)


def test_steps_counter_mismatch_names_the_multiple(torch_ckpts, train_steps):
    assert inspect(torch_ckpts["good"], steps=train_steps).ok
    rep = inspect(torch_ckpts["shared"], steps=train_steps)
    assert rep.verdicts() == {"bn": "counter-mismatch"}
    assert "2x" in rep["bn"].detail
    fewer = inspect(torch_ckpts["good"], steps=train_steps * 2)
    assert fewer["1"].verdict == "counter-mismatch" and "1/2" in fewer["1"].detail


def test_nan_batch_gives_nonfinite(torch_ckpts):
    rep = inspect(torch_ckpts["nan"])
    assert rep.verdicts() == {"1": "nonfinite", "5": "nonfinite"}
    assert "nonfinite" in rep.to_dict()["layers"][0]["verdict"]


def test_constant_inputs_give_degenerate(torch_ckpts):
    rep = inspect(torch_ckpts["dead"])
    assert rep.verdicts() == {"(root)": "degenerate"}
    assert "4 of 5 channels" in rep.layers[0].detail


def test_onnx_training_mode_export(torch_ckpts):
    rep = inspect(torch_ckpts["onnx_train"])
    assert [r.verdict for r in rep] == ["training-mode-export"]
    assert "training_mode=1" in rep.layers[0].detail
    ok = inspect(torch_ckpts["onnx_eval"])
    assert ok.ok and len(ok) == 1 and ok.layers[0].data["channels"] == 4


def test_safetensors_needs_neither_torch_nor_tensorflow(torch_ckpts):
    code = ("import sys; from bnguard.checkpoint import inspect; r = inspect(sys.argv[1]); "
            "assert r.ok, r; bad = [m for m in ('torch', 'tensorflow', 'jax', 'keras') if m in sys.modules]; "
            "assert not bad, bad")
    for key in ("good_st", "good", "good_legacy"):
        subprocess.run([sys.executable, "-c", code, torch_ckpts[key]], check=True)


def test_sharded_safetensors_folder(torch_ckpts, tmp_path):
    from safetensors.torch import save_file

    sd = torch.load(torch_ckpts["frozen"], weights_only=True)
    keys = sorted(sd)
    half = keys.index("1.running_mean")  # layer 1's counter and its statistics land in different shards
    save_file({k: sd[k] for k in keys[:half]}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({k: sd[k] for k in keys[half:]}, str(tmp_path / "model-00002-of-00002.safetensors"))
    rep = inspect(tmp_path)
    assert rep.meta["format"] == "shards of safetensors"
    assert rep.verdicts() == {"1": "never-updated", "5": "never-updated"}
