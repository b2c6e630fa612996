"""bnguard.keras.probe on the JAX backend (a subprocess: Keras picks its backend at import)."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("jax")
pytest.importorskip("keras")


def test_probe_on_jax_backend():
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    script = pathlib.Path(__file__).with_name("_jax_probe_script.py")
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    out = json.loads(line[len("RESULT "):])
    assert out["backend"] == "jax"
    assert out["fit"] == {"bn": "updated"}
    assert out["stateless_kept"] == {"bn": "updated"}
    assert out["stateless_dropped"] == {"bn": "frozen-no-update"}  # new stats computed, discarded
    assert out["contaminated"] == {"bn": "contaminated"}
    assert out["restored"] is True
