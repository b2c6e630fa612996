"""Each behaviour the PyTorch rules describe, observed for real (PyTorch CPU, tiny models, a few
steps) on the same program file the linter judges: the flagged program shows the failure, the
clean one does not, and the linter tells them apart."""
from __future__ import annotations

import pathlib
import runpy

import pytest

torch = pytest.importorskip("torch")

from _torch_cases import expected_markers, reported  # noqa: E402

BEHAVIOUR = pathlib.Path(__file__).parent / "fixtures" / "torch" / "behaviour"


def run(name: str) -> tuple[set, dict]:
    path = BEHAVIOUR / name
    expected = expected_markers(path)
    assert reported(path) == expected
    torch.manual_seed(0)
    return expected, runpy.run_path(str(path), run_name="bnguard_behaviour")


def test_eval_left_on_freezes_running_stats():
    expected, flagged = run("eval_left_on_flagged.py")
    assert {code for _, _, code in expected} == {"BN301"}
    means = flagged["running_mean_after_epoch"]
    # training after the first validation runs in eval mode: statistics never move again
    assert flagged["mode_during_training"][flagged["STEPS"]:] == [False] * (len(flagged["mode_during_training"]) - flagged["STEPS"])
    assert torch.equal(means[1], means[0]) and torch.equal(means[2], means[0])
    assert flagged["model"][1].num_batches_tracked.item() == flagged["STEPS"]

    expected, clean = run("eval_left_on_clean.py")
    assert not expected
    means = clean["running_mean_after_epoch"]
    assert all(clean["mode_during_training"])
    assert not torch.allclose(means[1], means[0]) and not torch.allclose(means[2], means[1])
    assert clean["model"][1].num_batches_tracked.item() == clean["EPOCHS"] * clean["STEPS"]


def test_validation_in_train_mode_absorbs_validation_data():
    expected, flagged = run("eval_in_train_mode_flagged.py")
    assert {code for _, _, code in expected} == {"BN303"}
    shift = (flagged["stats_after_validation"] - flagged["stats_before_validation"]).abs().max().item()
    assert shift > 0.5  # the running mean moved towards the shifted validation data

    expected, clean = run("eval_in_train_mode_clean.py")
    assert not expected
    assert torch.equal(clean["stats_after_validation"], clean["stats_before_validation"])


def test_tf_momentum_makes_stats_jump_to_the_last_batch():
    expected, flagged = run("tf_momentum_flagged.py")
    assert {code for _, _, code in expected} == {"BN304"}
    last = flagged["batch_means"][-1]
    assert torch.allclose(flagged["bn"].running_mean, last, atol=0.05)  # ~ the last batch only
    assert (flagged["bn"].running_mean - 2.0).abs().min().item() > 1.0  # far from the data mean (2)

    expected, clean = run("tf_momentum_clean.py")
    assert not expected
    assert (clean["bn"].running_mean - last).abs().min().item() > 1.5
    assert (clean["bn"].running_mean - 2.0).abs().max().item() < 0.6  # a smoothed estimate of the data mean


def test_zero_momentum_keeps_initial_statistics():
    expected, flagged = run("zero_momentum_flagged.py")
    assert {code for _, _, code in expected} == {"BN309"}
    bn = flagged["bn"]
    assert bn.num_batches_tracked.item() == flagged["STEPS"]  # the layer did run in train mode ...
    assert torch.equal(bn.running_mean, torch.zeros(3)) and torch.equal(bn.running_var, torch.ones(3))  # ... frozen
    # evaluation normalizes with mean 0 / variance 1: the normalized features are far from standard
    assert _normalized(flagged).mean(0).abs().max().item() > 0.5


    expected, clean = run("zero_momentum_clean.py")
    assert not expected
    bn = clean["bn"]
    assert not torch.equal(bn.running_mean, torch.zeros(3)) and not torch.equal(bn.running_var, torch.ones(3))
    assert _normalized(clean).mean(0).abs().max().item() < 0.3


def _normalized(ns: dict):
    """The eval-mode BN output with the affine part taken off: what the running statistics made of it."""
    bn = ns["bn"]
    return ((ns["eval_features"] - bn.bias) / bn.weight).detach()
