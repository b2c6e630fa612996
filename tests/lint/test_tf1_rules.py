"""TF1 rules BN101-BN105 over realistic fixture programs.

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


@pytest.mark.parametrize("code", ["BN101", "BN102", "BN103", "BN104", "BN105"])
def test_each_rule_has_six_flagged_and_six_clean_programs(code):
    prefix = code.lower() + "_"
    flagged = [p for p in _cases("flagged") if p.name.startswith(prefix)]
    clean = [p for p in _cases("clean") if p.name.startswith(prefix)]
    assert len(flagged) >= 6 and len(clean) >= 6, (len(flagged), len(clean))
    for p in flagged:
        assert any(c == code for _, _, c in _expected(p)), p
