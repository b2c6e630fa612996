"""Helpers for the PyTorch rule tests: a case is a ``.py`` file or a folder (a multi-file project)
under ``tests/lint/fixtures/torch/<code>/{flagged,clean}/``; ``# expect: BN3xx`` marks each line
that must be reported."""
from __future__ import annotations

import pathlib
import re

from bnguard.lint.engine import lint_paths

FIXTURES = pathlib.Path(__file__).parent / "fixtures" / "torch"
CODES = ["BN301", "BN302", "BN303", "BN304", "BN305", "BN306", "BN307", "BN308", "BN309", "BN310", "BN311", "BN312", "BN313", "BN314", "BN315", "BN316"]
MARKER = re.compile(r"#\s*expect:\s*((?:BN\d{3}[ ,]*)+)")


def cases(code: str, kind: str) -> list[pathlib.Path]:
    folder = FIXTURES / code / kind
    return sorted(p for p in folder.iterdir() if p.suffix == ".py" or p.is_dir()) if folder.is_dir() else []


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


def reported(case: pathlib.Path) -> set[tuple[str, int, str]]:
    result = lint_paths([str(case)], select=["BN3"])
    assert not result.errors, result.errors
    return {(pathlib.Path(f.path).name, f.line, f.code) for f in result.findings}
