"""TF1 rules BN101-BN106 over realistic fixture programs.

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


@pytest.mark.parametrize("code", ["BN101", "BN102", "BN103", "BN104", "BN105", "BN106"])
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
    assert set(rules) == {"BN101", "BN102", "BN103", "BN104", "BN105", "BN106"}
    for rule in rules.values():
        doc = rule.doc
        assert all(len(getattr(doc, f).strip()) > 40 for f in ("what", "why", "example", "use_instead",
                                                                "not_flagged", "versions")), rule.code
        assert rule.triggers and rule.summary and rule.framework == "tensorflow"
        rendered = doc.render(rule)
        assert rendered.startswith(f"# {rule.code} {rule.name}") and "## Not flagged" in rendered


def test_rule_example_is_flagged_and_use_instead_is_not(tmp_path):
    """The documented example of each rule triggers it; the documented fix does not (BN101, BN103,
    BN104 examples are complete programs up to undefined names)."""
    from bnguard.lint.rules.base import all_rules

    for code in ("BN101", "BN104"):
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
