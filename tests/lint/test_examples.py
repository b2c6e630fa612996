"""The three examples of the classic question (``examples/``): static verdicts, the snippets exactly
as printed in the question, and the freeze really happening when the first two are run."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnguard.lint.engine import lint_paths

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PRINTED = Path(__file__).parent / "fixtures" / "tf1" / "question"

VERDICTS = {
    "classic_1_constant_false.py": {"BN101"},
    "classic_2_placeholder.py": set(),
    "classic_3_keras.py": set(),
}
PRINTED_VERDICTS = {
    "example1_as_printed.py": {"BN101"},
    "example2_as_printed.py": set(),
    "example3_as_printed.py": set(),
}


def _codes(path: Path) -> set[str]:
    result = lint_paths([str(path)])
    assert not result.errors
    return {f.code for f in result.findings}


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_runnable_example_verdict(name):
    assert _codes(EXAMPLES / name) == VERDICTS[name]


@pytest.mark.parametrize("name", sorted(PRINTED_VERDICTS))
def test_snippet_as_printed_in_the_question_gets_the_same_verdict(name):
    # The printed snippets use undefined names (num_epochs, optimizer, x_train): still checked.
    assert _codes(PRINTED / name) == PRINTED_VERDICTS[name]


def test_first_example_finding_points_at_the_batch_norm_call():
    result = lint_paths([str(EXAMPLES / "classic_1_constant_false.py")])
    (finding,) = result.findings
    line = (EXAMPLES / "classic_1_constant_false.py").read_text().splitlines()[finding.line - 1]
    assert "tf.layers.batch_normalization" in line
    assert "training_phase" in finding.message


def test_cli_exit_codes_on_examples():
    env = dict(os.environ)
    flagged = subprocess.run([sys.executable, "-m", "bnguard", "check", str(EXAMPLES / "classic_1_constant_false.py")],
                             capture_output=True, text=True, env=env)
    assert flagged.returncode == 1, flagged.stderr
    assert "BN101" in flagged.stdout
    clean = subprocess.run([sys.executable, "-m", "bnguard", "check", str(EXAMPLES / "classic_2_placeholder.py"),
                            str(EXAMPLES / "classic_3_keras.py")], capture_output=True, text=True, env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr


_RUN_BOTH = """
import importlib.util, json, sys
out = {}
for name in ("classic_1_constant_false", "classic_2_placeholder"):
    spec = importlib.util.spec_from_file_location(name, f"{sys.argv[1]}/{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out[name] = [float(v) for v in mod.main(steps=5)]
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_examples_really_freeze_or_train_under_tf_compat_v1():
    pytest.importorskip("tensorflow")
    pytest.importorskip("tf_keras")
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    # A separate process: the examples switch TensorFlow to graph mode, which is process-global.
    proc = subprocess.run([sys.executable, "-c", _RUN_BOTH, str(EXAMPLES)], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    means = json.loads(line[len("RESULT "):])
    frozen, trained = means["classic_1_constant_false"], means["classic_2_placeholder"]
    # Flagged example: moving mean still exactly at its initial 0 after training steps.
    assert frozen == [0.0] * 10
    # Clean example: inputs have mean 5, so with momentum 0.99 five steps move it to about 0.25.
    assert all(0.1 < m < 1.0 for m in trained), trained
