"""TF1 rules BN101-BN107 over realistic fixture programs.

Every program under ``fixtures/tf1/flagged`` marks each line that must be reported with a trailing
``# BN10x`` comment; the reported (file, line, code) set must equal the marked set exactly. Programs
under ``fixtures/tf1/clean`` must give no BN1xx finding. A directory is one multi-file project.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from bnguard.lint.engine import lint_paths

FIXTURES = Path(__file__).parent / "fixtures" / "tf1"
MARK = re.compile(r"#\s*(BN1\d\d)\b")


def _cases(kind: str) -> list[Path]:
    return sorted(p for p in (FIXTURES / kind).iterdir() if p.suffix == ".py" or p.is_dir())


def _expected(project: Path) -> set[tuple[str, int, str]]:
    files = [project] if project.is_file() else sorted(project.rglob("*.py"))
    out = set()
    for f in files:
        for i, line in enumerate(f.read_text().splitlines(), 1):
            for code in MARK.findall(line):
                out.add((f.name, i, code))
    return out


def _reported(project: Path) -> set[tuple[str, int, str]]:
    result = lint_paths([str(project)], select=["BN1"])
    assert not result.errors, result.errors
    return {(Path(f.path).name, f.line, f.code) for f in result.findings}


@pytest.mark.parametrize("project", _cases("flagged"), ids=lambda p: p.name)
def test_flagged_program_reports_exactly_the_marked_lines(project):
    expected = _expected(project)
    assert expected, "a flagged fixture must mark at least one line"
    assert _reported(project) == expected


@pytest.mark.parametrize("project", _cases("clean"), ids=lambda p: p.name)
def test_clean_program_is_not_flagged(project):
    assert _reported(project) == set()


@pytest.mark.parametrize("code", ["BN101", "BN102", "BN103", "BN104", "BN105", "BN106", "BN107"])
def test_each_rule_has_six_flagged_and_six_clean_programs(code):
    prefix = code.lower() + "_"
    flagged = [p for p in _cases("flagged") if p.name.startswith(prefix)]
    clean = [p for p in _cases("clean") if p.name.startswith(prefix)]
    assert len(flagged) >= 6 and len(clean) >= 6, (len(flagged), len(clean))
    for p in flagged:
        assert any(c == code for _, _, c in _expected(p)), p


def test_every_tf1_rule_is_documented_and_has_triggers():
    from bnguard.lint.rules.base import all_rules

    rules = {code: r for code, r in all_rules().items() if code.startswith("BN1")}
    assert set(rules) == {"BN101", "BN102", "BN103", "BN104", "BN105", "BN106", "BN107"}
    for rule in rules.values():
        doc = rule.doc
        assert all(len(getattr(doc, f).strip()) > 40 for f in ("what", "why", "example", "use_instead",
                                                                "not_flagged", "versions")), rule.code
        assert rule.triggers and rule.summary and rule.framework == "tensorflow"
        rendered = doc.render(rule)
        assert rendered.startswith(f"# {rule.code} {rule.name}") and "## Not flagged" in rendered


def test_rule_example_is_flagged_and_use_instead_is_not(tmp_path):
    """The documented example of each rule triggers it; the documented fix does not (BN101, BN103,
    BN104, BN107 examples are complete programs up to undefined names)."""
    from bnguard.lint.rules.base import all_rules

    for code in ("BN101", "BN104", "BN107"):
        rule = all_rules()[code]
        bad, good = tmp_path / f"{code}_bad.py", tmp_path / f"{code}_good.py"
        header = "import tensorflow as tf\n"
        bad.write_text(header + rule.doc.example)
        good.write_text(header + rule.doc.use_instead)

        def build(path):
            return {f.code for f in lint_paths([str(path)], select=[code]).findings}
        if code == "BN104":
            # the documented snippet calls a project function: give it one that builds BN
            helper = "def build_model(x, is_training):\n    return tf.layers.batch_normalization(x, training=is_training)\n"
            bad.write_text(header + helper + rule.doc.example)
            good.write_text(header + helper + rule.doc.use_instead)
        assert build(bad) == {code}, code
        assert build(good) == set(), code


@pytest.mark.parametrize("names, deliberate", [
    (["discriminator_loss"], True),
    (["build_dcgan"], True),
    (["meta_train_step"], True),
    (["MAMLTrainer"], True),
    (["tent_adapt"], True),
    (["random_transform_generator"], False),  # a data generator is not a GAN
    (["import_meta_graph"], False),
    (["organ_segmentation", "attach_head", "adaptive_pool"], False),
])
def test_deliberate_batch_statistics_are_named_by_whole_words(names, deliberate):
    from bnguard.lint.tf1_facts import mentions_deliberate_batch_stats

    assert mentions_deliberate_batch_stats(names) is deliberate


_MEASURE = """
import importlib.util, json, sys
import numpy as np
out = {}
for path, kwargs in json.loads(sys.argv[1]):
    spec = importlib.util.spec_from_file_location("prog", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out[path] = np.asarray(mod.main(**kwargs), dtype=float).tolist()
print("RESULT " + json.dumps(out))
"""


@pytest.mark.slow
def test_flagged_second_train_op_and_keras3_layer_really_freeze_the_statistics():
    """The BN103 cases of a second, unwired train op run with the flag True and of a Keras 3 layer in
    a v1 graph, run for real on TF 2.21: the moving mean stops (stage 2) or never moves (Keras 3)."""
    import json
    import os
    import subprocess
    import sys

    import numpy as np

    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")
    stages = FIXTURES / "flagged" / "bn103_finetune_stage_op_without_update_ops.py"
    keras3 = FIXTURES / "flagged" / "bn103_keras3_bn_in_compat_v1_graph.py"
    for path in (stages, keras3):
        assert {c for _, _, c in _reported(path)} == {"BN103"}
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               KERAS_BACKEND="tensorflow")
    result = {}
    for run in ([str(stages), {"stage1_steps": 4, "stage2_steps": 4}], [str(keras3), {"steps": 4}]):
        # one process per program: each builds its graph in the process's default graph
        proc = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps([run])], capture_output=True,
                              text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result.update(json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))[7:]))
    after_stage1, after_stage2 = np.asarray(result[str(stages)])
    assert np.abs(after_stage1).max() > 1e-3  # the wired stage 1 moved the statistics
    assert np.allclose(after_stage1, after_stage2)  # stage 2 trained on shifted data: nothing moved
    assert np.allclose(result[str(keras3)], 0.0)  # inputs have mean ~5.5: a working layer would follow


def test_bn105_names_the_inference_call_that_passes_true():
    """The inference script rebuilds the graph with ``make_graph(training=True)``; the message must
    name that call (where the fix goes), not only the BN layer and the ``sess.run``."""
    project = FIXTURES / "flagged" / "bn105_inference_script_rebuilds_with_true"
    findings = [f for f in lint_paths([str(project)], select=["BN105"]).findings]
    assert len(findings) == 1
    assert "`make_graph(training=True)`" in findings[0].message
    assert "recognise.py:6" in findings[0].message


def test_module_attribute_call_names_the_module_beside_the_caller(tmp_path):
    """Two experiments each ship a ``net.py`` with an ``inference``: ``import net`` in one experiment's
    script is the ``net.py`` next to it (``sys.path[0]``), so its ``net.inference(...)`` can only run
    that module's function, and a parameter call (``model_fn(x)``) in one program cannot run another
    program's same-named function."""
    from bnguard.lint.engine import discover, load_source, parse_unit
    from bnguard.lint.project import Project
    from bnguard.lint.tf1_facts import call_may_reach

    for exp in ("exp_a", "exp_b"):
        (tmp_path / exp).mkdir()
        (tmp_path / exp / "net.py").write_text("def inference(x, is_training=False):\n    return x\n")
        (tmp_path / exp / "evaluate.py").write_text("import net\n\nout = net.inference(1)\n")
    (tmp_path / "solo.py").write_text("def model_fn(x):\n    return x\n\nmodel_fn(1)\n")
    (tmp_path / "runner.py").write_text("def run(model_fn):\n    return model_fn(2)\n")
    files, _ = discover([str(tmp_path)])
    project = Project([parse_unit(load_source(f)) for f in files])
    by_path = {Path(m.path).relative_to(tmp_path).as_posix(): m for m in project.modules}
    a_net, b_net, a_eval = by_path["exp_a/net.py"], by_path["exp_b/net.py"], by_path["exp_a/evaluate.py"]
    call = next(c for c in a_eval.calls if c.name == "inference")
    assert project.attribute_module(a_eval, call.node.func) is a_net
    assert project.attribute_may_name(a_eval, call.node.func, a_net)
    assert not project.attribute_may_name(a_eval, call.node.func, b_net)
    assert call_may_reach(call, a_net, project) and not call_may_reach(call, b_net, project)
    param_call = next(c for c in by_path["runner.py"].calls if c.name == "model_fn")
    assert not call_may_reach(param_call, by_path["solo.py"], project)


def test_generic_runner_reaches_the_builder_its_caller_passes():
    """The builder reaches the train op only as a value (a positional ``functools.partial``, a keyword
    stored in ``self``): the flagged runners are reported at their train op, and a builder that wires
    its layer's own ``updates`` into its output is not."""
    for name, where, layer in (("bn103_builder_passed_to_runner_function", ("runner.py", 13), "nets.py:7"),
                               ("bn103_session_estimator_class_with_fit", ("estimator.py", 22), "blocks.py:6")):
        findings = lint_paths([str(FIXTURES / "flagged" / name)], select=["BN103"]).findings
        assert [(Path(f.path).name, f.line) for f in findings] == [where]
        assert layer in findings[0].message
    assert not lint_paths([str(FIXTURES / "clean" / "bn103_runner_builder_wires_layer_updates")],
                          select=["BN1"]).findings
