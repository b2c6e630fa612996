"""The Flax rules tied to real behaviour: each program is linted and trained for 3 steps on CPU.
Flagged programs leave ``batch_stats`` at their initial zeros; clean twins move them."""
from __future__ import annotations

import pathlib
import runpy

import numpy as np
import pytest

from bnguard.lint.engine import lint_paths

pytest.importorskip("flax")
pytest.importorskip("optax")

PROGRAMS = pathlib.Path(__file__).parent / "fixtures" / "flax" / "behaviour"
pytestmark = pytest.mark.slow
# data mean 5, momentum 0.9, 3 steps: a live moving mean is 5 * (1 - 0.9**3) ~ 1.36
LIVE = 1.0


def codes(name: str) -> set[str]:
    result = lint_paths([str(PROGRAMS / name)])
    assert not result.errors
    return {f.code for f in result.findings}


def train(name: str) -> np.ndarray:
    return np.asarray(runpy.run_path(str(PROGRAMS / name))["train"]())


@pytest.mark.parametrize("program,code", [
    ("flagged_stats_dropped.py", "BN402"),
    ("flagged_running_average.py", "BN401"),
    ("flagged_nnx_split_merge.py", "BN402"),
])
def test_flagged_program_freezes_batch_stats_and_is_reported(program, code):
    assert code in codes(program)
    mean = train(program)
    assert np.all(mean == 0.0), mean


@pytest.mark.parametrize("program", ["clean_stats_written_back.py", "clean_nnx_split_merge.py"])
def test_clean_program_moves_batch_stats_and_is_not_reported(program):
    assert not codes(program)
    mean = train(program)
    assert np.all((mean > LIVE) & (mean < 2.0)), mean


def test_pytorch_momentum_in_flax_tracks_the_batch():
    assert "BN501" in codes("flagged_momentum.py")
    mean = train("flagged_momentum.py")
    assert np.all(mean > 4.0), mean  # 5 * (1 - 0.1**3): the batch mean itself, no averaging


def test_eval_in_training_mode_reports_a_loss_the_served_model_does_not_have():
    # BN404: the eval step normalizes the shifted validation batch with its own statistics; the
    # served model (running averages) sees the shift. The clean twin reports the served loss.
    assert "BN404" in codes("flagged_eval_batch_statistics.py")
    reported, served = runpy.run_path(str(PROGRAMS / "flagged_eval_batch_statistics.py"))["validation_losses"]()
    assert abs(reported - served) > 0.05 * served, (reported, served)
    assert not codes("clean_eval_running_averages.py")
    reported, served = runpy.run_path(str(PROGRAMS / "clean_eval_running_averages.py"))["validation_losses"]()
    assert np.isclose(reported, served, rtol=1e-5), (reported, served)
