"""BN401-BN404 on realistic Flax programs (see ``_rule_cases``): flagged programs must be reported on
their marked lines, clean ones (flax examples patterns, eval steps, NNX jit, inference-only
frozen backbones) not at all."""
from __future__ import annotations

import pathlib

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


# Flax NNX evaluated in training mode: detected by ``flax.nnx_evaluations_in_train_mode`` and reported
# as BN303 (the PyTorch mode rule: NNX modules share its train() / eval() semantics). The cases are
# checked on the detector itself, whatever rule reports it.
NNX_EVAL = [(kind, p) for kind, p in cases(FAMILY, "BN303")]


def _nnx_eval_lines(case) -> set[tuple[str, int, str]]:
    from bnguard.lint.engine import discover, load_source, parse_unit
    from bnguard.lint.project import Project
    from bnguard.lint.rules.flax import nnx_evaluations_in_train_mode

    files, errors = discover([str(case)])
    assert not errors
    modules = [parse_unit(load_source(f)) for f in files]
    project = Project(modules)
    return {(pathlib.Path(m.path).name, call.lineno, "BN303")
            for m in project.modules for call, _ in nnx_evaluations_in_train_mode(m, project)}


@pytest.mark.parametrize("kind,case", NNX_EVAL, ids=[p.stem for _, p in NNX_EVAL])
def test_nnx_evaluation_in_train_mode(kind, case):
    from _rule_cases import expected_markers

    expected = expected_markers(case)
    assert (kind == "flagged") == bool(expected)
    assert _nnx_eval_lines(case) == expected


def test_nnx_evaluation_cases_cover_both_sides():
    kinds = [k for k, _ in NNX_EVAL]
    assert kinds.count("flagged") >= 2 and kinds.count("clean") >= 4
