"""The Keras rules tied to real behaviour: the same program files are linted and really trained
(CPU, tiny models, a few steps). A flagged program must freeze the BN moving statistics (or, for
BN501, make them follow the last batch); its clean twin must move them normally.

Keras 3 on the TensorFlow backend runs in-process (tests/conftest.py selects it); Keras 3 on JAX
and tf.keras in TF1 graph mode are chosen at import time, so they run in a subprocess.
"""
from __future__ import annotations

import json
import os
import pathlib
import runpy
import subprocess
import sys

import numpy as np
import pytest

from bnguard.lint.engine import lint_paths

PROGRAMS = pathlib.Path(__file__).parent / "fixtures" / "keras" / "behaviour"
pytestmark = pytest.mark.slow


def codes(name: str) -> set[str]:
    result = lint_paths([str(PROGRAMS / name)])
    assert not result.errors
    return {f.code for f in result.findings}


def run_in_process(name: str, **kwargs) -> np.ndarray:
    pytest.importorskip("keras")
    pytest.importorskip("tensorflow")
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("these programs are written for the TensorFlow backend")
    return np.asarray(runpy.run_path(str(PROGRAMS / name))["train"](**kwargs))


def run_in_subprocess(name: str, env: dict[str, str]) -> np.ndarray:
    code = ("import json, runpy, sys; import numpy as np; "
            "print('RESULT', json.dumps(np.asarray(runpy.run_path(sys.argv[1])['train']()).tolist()))")
    full_env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2", **env}
    proc = subprocess.run([sys.executable, "-c", code, str(PROGRAMS / name)], env=full_env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")][-1]
    return np.asarray(json.loads(line[len("RESULT "):]))


# Data have mean 5: after 3 steps with momentum 0.99 a live moving mean is 5 * (1 - 0.99**3) ~ 0.15.
LIVE = 0.1


@pytest.mark.parametrize("program,code", [("flagged_training_false.py", "BN201"), ("flagged_no_training.py", "BN202")])
def test_custom_loop_without_training_true_freezes_and_is_reported(program, code):
    assert code in codes(program)
    moving_mean = run_in_process(program)
    assert np.all(moving_mean == 0.0), moving_mean


def test_custom_loop_with_training_true_moves_and_is_not_reported():
    assert not codes("clean_training_true.py")
    moving_mean = run_in_process("clean_training_true.py")
    assert np.all(moving_mean > LIVE), moving_mean


def test_pytorch_momentum_makes_moving_mean_follow_the_last_batch():
    # three batches with mean 0, then one with mean 10
    assert "BN501" in codes("flagged_momentum.py") and not codes("clean_momentum.py")
    flagged = run_in_process("flagged_momentum.py")
    clean = run_in_process("clean_momentum.py")
    assert np.all(flagged > 8.0), flagged  # 0.9 * 10: essentially the last batch
    assert np.all((clean > 0.5) & (clean < 1.5)), clean  # 0.1 * 10: a running average


def test_stateless_call_dropping_state_freezes_on_jax_backend():
    pytest.importorskip("jax")
    assert "BN205" in codes("flagged_stateless_call_jax.py")
    assert not codes("clean_stateless_call_jax.py")
    flagged = run_in_subprocess("flagged_stateless_call_jax.py", {"KERAS_BACKEND": "jax"})
    clean = run_in_subprocess("clean_stateless_call_jax.py", {"KERAS_BACKEND": "jax"})
    assert np.all(flagged == 0.0), flagged
    assert np.all(clean > LIVE), clean


def test_set_learning_phase_0_freezes_fit_in_graph_mode():
    pytest.importorskip("tf_keras")
    assert "BN204" in codes("flagged_learning_phase_graph.py")
    assert not codes("clean_learning_phase_graph.py")
    flagged = run_in_subprocess("flagged_learning_phase_graph.py", {"TF_USE_LEGACY_KERAS": "1"})
    clean = run_in_subprocess("clean_learning_phase_graph.py", {"TF_USE_LEGACY_KERAS": "1"})
    assert np.all(flagged == 0.0), flagged
    assert np.all(clean > LIVE), clean
