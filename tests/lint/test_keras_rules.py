"""BN201-BN209 on realistic programs (see ``_rule_cases``): flagged programs must be reported on
their marked lines, clean ones (transfer learning, distillation, target networks, GANs, eval steps,
frozen BN...) not at all; fixes, where offered, make the finding go away."""
from __future__ import annotations

import pytest

from _rule_cases import apply_fixes, cases, check_case, findings

FAMILY, CODES, SELECT = "keras", ["BN201", "BN202", "BN203", "BN204", "BN205", "BN206", "BN207", "BN208", "BN209"], ["BN2"]
ALL = [(code, kind, p) for code in CODES for kind, p in cases(FAMILY, code)]


@pytest.mark.parametrize("code,kind,case", ALL, ids=[f"{c}-{p.stem}" for c, k, p in ALL])
def test_case(code, kind, case):
    check_case(FAMILY, code, kind, case, SELECT)


@pytest.mark.parametrize("code", CODES)
def test_each_rule_has_six_flagged_and_six_clean_programs(code):
    kinds = [k for k, _ in cases(FAMILY, code)]
    assert kinds.count("flagged") >= 6 and kinds.count("clean") >= 6


# flagged single-file cases for which the rule offers a fix (computed, so a lost fix shows up below)
FIXABLE = [(c, p) for c, k, p in ALL if k == "flagged" and p.is_file() and any(f.fix for f in findings(p, [c]))]


@pytest.mark.parametrize("code,case", FIXABLE, ids=[p.stem for _, p in FIXABLE])
def test_fix_removes_the_finding(code, case, tmp_path):
    found = [f for f in findings(case, [code]) if f.fix]
    fixed = tmp_path / case.name
    fixed.write_text(apply_fixes(case.read_text(), found))
    assert not [f for f in findings(fixed, [code]) if f.line in {x.line for x in found}]


def test_bn201_fix_turns_training_false_into_true(tmp_path):
    case = [p for c, k, p in ALL if p.name == "flagged_tape_loop.py"][0]
    (f,) = findings(case, ["BN201"])
    assert f.fix is not None
    assert "training=True" in apply_fixes(case.read_text(), [f]).splitlines()[f.line - 1]


def test_rules_have_full_docs():
    from bnguard.lint.rules.base import all_rules

    rules = all_rules()
    for code in CODES:
        doc = rules[code].doc
        assert doc and all([doc.what, doc.why, doc.example, doc.use_instead, doc.not_flagged, doc.versions])
        assert rules[code].triggers


def test_fixes_are_offered_where_the_change_is_unambiguous():
    fixable = {p.stem for _, p in FIXABLE}
    assert {"flagged_tape_loop", "flagged_train_step_override", "flagged_minimize", "flagged_sequential_loop",
            "flagged_conv_block"} <= fixable
    # a flag that comes from a constant shared with other code is not rewritten
    assert "flagged_constant_flag" not in fixable
