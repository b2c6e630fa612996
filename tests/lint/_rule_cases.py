"""Helpers for the fixture-driven rule tests of the Keras, Flax and momentum families.

A case is a ``flagged_*``/``clean_*`` ``.py`` file or folder (a multi-file project) under
``tests/lint/fixtures/<family>/<code>/``. Every ``# expect: BNxxx`` marker must be reported on its
line and nothing else of the family may be reported; clean cases carry no marker.
"""
from __future__ import annotations

import pathlib
import re

from bnguard.lint.engine import lint_paths
from bnguard.lint.finding import Finding
from bnguard.lint.runner import CheckOptions, check_paths

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
MARKER = re.compile(r"#\s*expect:\s*((?:BN\d{3}[ ,]*)+)")


def cases(family: str, code: str) -> list[tuple[str, pathlib.Path]]:
    folder = FIXTURES / family / code.lower()
    out = []
    for p in sorted(folder.iterdir()):
        if p.name.startswith(("flagged_", "clean_")) and (p.suffix == ".py" or p.is_dir()):
            out.append(("flagged" if p.name.startswith("flagged_") else "clean", p))
    return out


def expected_markers(case: pathlib.Path) -> set[tuple[str, int, str]]:
    files = [case] if case.is_file() else sorted(case.rglob("*.py"))
    out = set()
    for f in files:
        for i, line in enumerate(f.read_text().splitlines(), 1):
            m = MARKER.search(line)
            if m:
                for code in re.findall(r"BN\d{3}", m.group(1)):
                    out.add((f.name, i, code))
    return out


def findings(case: pathlib.Path, select: list[str]) -> list[Finding]:
    """Findings of the engine, checked against the CLI path (pre-filter on, one process): the
    pre-filter must not drop a file a finding or one of its project facts depends on."""
    result = lint_paths([str(case)], select=select)
    assert not result.errors, result.errors
    via_cli = check_paths([str(case)], CheckOptions(select=select, jobs=1))
    key = lambda f: (f.path, f.line, f.col, f.code)  # noqa: E731
    assert sorted(map(key, via_cli.reported)) == sorted(map(key, result.findings))
    return result.findings


def reported(case: pathlib.Path, select: list[str]) -> set[tuple[str, int, str]]:
    return {(pathlib.Path(f.path).name, f.line, f.code) for f in findings(case, select)}


def check_case(family: str, code: str, kind: str, case: pathlib.Path, select: list[str]) -> None:
    expected = expected_markers(case)
    if kind == "flagged":
        assert any(e[2] == code for e in expected), f"flagged case without a {code} marker"
    else:
        assert not expected, "clean case with a marker"
    assert reported(case, select) == expected


def apply_fixes(text: str, found: list[Finding]) -> str:
    """Apply every fix's edits (one file, no notebook) from the end backwards."""
    lines = text.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    edits = sorted({e for f in found if f.fix for e in f.fix.edits},
                   key=lambda e: (e.line, e.col), reverse=True)
    for e in edits:
        start = offsets[e.line - 1] + e.col
        end = offsets[e.end_line - 1] + e.end_col
        text = text[:start] + e.text + text[end:]
    return text
