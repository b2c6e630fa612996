"""Ties a TF1 rule to real TensorFlow behaviour: a `tf.keras.layers.BatchNormalization` layer in a
v1 graph freezes even with UPDATE_OPS wired (BN103 flags it) and trains when its own `updates` are
wired (not flagged)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnguard.lint.engine import lint_paths

FIXTURES = Path(__file__).parent / "fixtures" / "tf1"
FROZEN = FIXTURES / "flagged" / "bn103_keras_layer_in_v1_graph.py"
WIRED = FIXTURES / "clean" / "bn103_keras_layer_updates_wired.py"

_RUN = """
import importlib.util, json, sys
out = {}
for path in sys.argv[1:]:
    spec = importlib.util.spec_from_file_location("prog", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out[path] = [float(v) for v in mod.main(steps=5)]
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_keras_bn_in_v1_graph_freezes_where_flagged_and_trains_where_clean():
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    flagged = {f.code for f in lint_paths([str(FROZEN)], select=["BN1"]).findings}
    clean = {f.code for f in lint_paths([str(WIRED)], select=["BN1"]).findings}
    assert flagged == {"BN103"} and clean == set()

    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    proc = subprocess.run([sys.executable, "-c", _RUN, str(FROZEN), str(WIRED)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:])
    assert result[str(FROZEN)] == [0.0] * 4  # UPDATE_OPS was wired, yet nothing moved
    assert all(m > 0.1 for m in result[str(WIRED)])  # inputs have mean 5: the statistics follow
