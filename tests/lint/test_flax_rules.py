"""BN401-BN404 on realistic Flax programs (see ``_rule_cases``): flagged programs must be reported on
their marked lines, clean ones (flax examples patterns, eval steps, NNX jit, inference-only
frozen backbones) not at all."""
from __future__ import annotations

import pytest

from _rule_cases import cases, check_case, findings

FAMILY, CODES, SELECT = "flax", ["BN401", "BN402", "BN403", "BN404"], ["BN4"]
ALL = [(code, kind, p) for code in CODES for kind, p in cases(FAMILY, code)]


@pytest.mark.parametrize("code,kind,case", ALL, ids=[f"{c}-{p.stem}" for c, k, p in ALL])
def test_case(code, kind, case):
    check_case(FAMILY, code, kind, case, SELECT)


@pytest.mark.parametrize("code", CODES)
def test_each_rule_has_six_flagged_and_six_clean_programs(code):
    kinds = [k for k, _ in cases(FAMILY, code)]
    assert kinds.count("flagged") >= 6 and kinds.count("clean") >= 6


def test_no_fix_is_offered():
    # the right flag (train / training / not deterministic...) is the user's: nothing to rewrite blindly
    assert not [f for c, k, p in ALL if k == "flagged" for f in findings(p, [c]) if f.fix]


def test_rules_have_full_docs():
    from bnguard.lint.rules.base import all_rules

    rules = all_rules()
    for code in CODES:
        doc = rules[code].doc
        assert doc and all([doc.what, doc.why, doc.example, doc.use_instead, doc.not_flagged, doc.versions])
        assert rules[code].triggers
