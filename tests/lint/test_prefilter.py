"""The pre-filter and the worker processes never change results (issue 4).

The whole fixture corpus (every project folder under tests/lint/fixtures, whatever exists when the
test runs) is checked with and without the pre-filter, and with 1 and 2 workers; results must be
identical. A second selection keeps only rules that declare triggers, so the pre-filter really
skips files there.
"""
from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st
from _workflow import FIXTURES, write

from bnguard.lint import prefilter, runner
from bnguard.lint.cache import finding_to_dict
from bnguard.lint.rules.base import all_rules
from bnguard.lint.runner import CheckOptions, check_paths


def corpus_projects() -> list[str]:
    """Each family folder under fixtures/ (flagged and clean programs together) is one project."""
    return [str(p) for p in sorted(FIXTURES.iterdir()) if p.is_dir()]


def snapshot(result):
    return ([finding_to_dict(f) for f in result.findings], [e.to_dict() for e in result.errors], result.files_checked)


@pytest.fixture()
def small_pool_threshold(monkeypatch):
    monkeypatch.setattr(runner, "PARALLEL_MIN_FILES", 0)  # use worker processes even for tiny trees
    monkeypatch.setattr(runner, "PARALLEL_MIN_MODULES", 2)
    # The suite has jax/tensorflow/torch loaded; the runner then stays in one process for safety.
    # The children here run pure-Python linting only, so really fork them: the comparison must not
    # be vacuous.
    monkeypatch.setattr(runner, "_THREADED_FRAMEWORKS", ())


def test_prefilter_and_workers_do_not_change_results_on_the_fixture_corpus(small_pool_threshold):
    projects = corpus_projects()
    assert projects, "no fixture folders found"
    skipped_somewhere = False
    for project in projects:
        full = check_paths([project], CheckOptions(prefilter=False, jobs=1))
        filtered = check_paths([project], CheckOptions(prefilter=True, jobs=1))
        two_workers = check_paths([project], CheckOptions(prefilter=True, jobs=2))
        assert snapshot(filtered) == snapshot(full), (project, _difference(full, filtered))
        assert snapshot(two_workers) == snapshot(full), (project, _difference(full, two_workers))
        skipped_somewhere |= filtered.files_parsed < full.files_parsed
    if all(r.triggers for r in all_rules().values()):
        assert skipped_somewhere  # the comparison is not vacuous: the pre-filter did skip files


def _difference(full, other) -> str:
    """Which findings differ: usually a rule whose ``triggers`` miss a spelling it reports."""
    a = {(f.path, f.line, f.code) for f in full.findings}
    b = {(f.path, f.line, f.code) for f in other.findings}
    return f"only without pre-filter: {sorted(a - b)}; only with: {sorted(b - a)}"


def test_fact_providing_file_is_parsed_even_without_a_trigger(tmp_path, small_pool_threshold):
    """model.py (momentum from a parameter) is flagged only through train.py's call site
    ``Block(16, bn_decay=0.99)``; train.py contains no trigger but must still be parsed."""
    shutil.copytree(FIXTURES / "workflow" / "xfile", tmp_path / "proj")
    write(tmp_path, "proj/notes_broken.py", "def unfinished(:\n")  # skipped, but its error is reported
    write(tmp_path, "proj/io_utils.py", "def load(p):\n    return open(p).read()\n")
    for jobs in (1, 2):
        res = check_paths([str(tmp_path / "proj")], CheckOptions(select=["BN304"], prefilter=True, jobs=jobs))
        assert [(f.path.rsplit("/", 1)[1], f.line) for f in res.findings] == [("model.py", 9)]
        assert [e.path.rsplit("/", 1)[1] for e in res.errors] == ["notes_broken.py"]
        assert "syntax error" in res.errors[0].message
        assert res.files_parsed == 2  # model.py and train.py; utils.py, io_utils.py skipped (broken one checked apart)


def test_call_chain_through_an_untriggered_module(tmp_path):
    """A fact two hops away: train.py -> builder.make(decay) -> model.Block(bn_decay=decay)."""
    write(tmp_path, "model.py", """\
        import torch.nn as nn

        class Block(nn.Module):
            def __init__(self, c, bn_decay=0.1):
                super().__init__()
                self.bn = nn.BatchNorm2d(c, momentum=bn_decay)
        """)
    write(tmp_path, "builder.py", "from model import Block\n\ndef make(decay):\n    return Block(8, bn_decay=decay)\n")
    write(tmp_path, "train.py", "from builder import make\n\nnet = make(0.99)\n")
    full = check_paths([str(tmp_path)], CheckOptions(select=["BN304"], prefilter=False, jobs=1))
    filtered = check_paths([str(tmp_path)], CheckOptions(select=["BN304"], prefilter=True, jobs=1))
    assert snapshot(filtered) == snapshot(full)


@given(st.lists(st.sampled_from(list("ab_1 .(é\n") + ["ab", "a_b", "1ab"]), max_size=20).map("".join),
       st.sampled_from(["ab", "a_b", "b", "a", "é", "_"]))
def test_word_set_agrees_with_mentions(text, name):
    # the name closure tokenises each skipped file once instead of searching it per name
    assert (name in prefilter.word_set(text)) == prefilter.mentions(text, {name})
