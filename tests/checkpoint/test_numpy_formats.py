"""Plain pickles of numpy arrays (Detectron2 model-zoo .pkl, JAX/Flax states saved with pickle)
and numpy .npz archives: read as data, never executed."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

from bnguard.checkpoint import inspect
from bnguard.checkpoint.errors import CheckpointError

torch = pytest.importorskip("torch")


def _numpy_state(path) -> dict:
    # our own file, written by the fixture: loading it with torch here is the test's business only
    return {k: v.numpy() for k, v in torch.load(path, weights_only=True).items()}


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_detectron2_style_pickle_of_numpy_arrays(torch_ckpts, tmp_path, protocol):
    for name in ("good", "frozen"):
        state = {"model": _numpy_state(torch_ckpts[name]), "__author__": "someone", "matching_heuristics": True}
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(state, protocol=protocol))
    good = inspect(tmp_path / "good.pkl")
    assert good.ok and good.verdicts() == {"model.1": "ok", "model.5": "ok"}
    expected = _numpy_state(torch_ckpts["good"])["1.running_var"]
    assert good["model.1"].data["var_max"] == pytest.approx(float(expected.max()))
    bad = inspect(tmp_path / "frozen.pkl")
    assert set(bad.verdicts().values()) == {"never-updated"} and len(bad) == 2


def test_flax_state_pickled_after_device_get(flax_ckpts, tmp_path):
    for name in ("good", "frozen"):
        (tmp_path / f"{name}.pkl").write_bytes(pickle.dumps(flax_ckpts[f"{name}_state"]))
    assert inspect(tmp_path / "good.pkl").verdicts() == {"BatchNorm_0": "ok"}
    assert inspect(tmp_path / "frozen.pkl").verdicts() == {"BatchNorm_0": "never-updated?"}


def test_numpy_pickle_refuses_code_and_object_arrays(tmp_path):
    marker = tmp_path / "pwned"

    class RunsCode:
        def __reduce__(self):
            import os
            return os.system, (f"touch {marker}",)

    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"bn.running_mean": np.zeros(3), "x": RunsCode()}))
    with pytest.raises(CheckpointError, match="refused"):
        inspect(evil)
    objects = tmp_path / "objects.pkl"
    objects.write_bytes(pickle.dumps({"a": np.array([1, "x"], dtype=object)}))
    with pytest.raises(CheckpointError, match="refused"):
        inspect(objects)
    assert not marker.exists()


def test_npz_archive(torch_ckpts, tmp_path):
    for name in ("good", "frozen"):
        np.savez(tmp_path / f"{name}.npz", **_numpy_state(torch_ckpts[name]))
    np.savez_compressed(tmp_path / "good_c.npz", **_numpy_state(torch_ckpts["good"]))
    assert inspect(tmp_path / "good.npz").verdicts() == {"1": "ok", "5": "ok"}
    assert inspect(tmp_path / "good_c.npz").verdicts() == {"1": "ok", "5": "ok"}
    assert set(inspect(tmp_path / "frozen.npz").verdicts().values()) == {"never-updated"}
