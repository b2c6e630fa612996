"""--fix and --diff: apply, re-check (no finding left, file parses, nothing else changed)."""
from __future__ import annotations

import ast
import difflib
import shutil

from _workflow import FIXTURES, run_check, run_json, write

from bnguard.lint.finding import Edit, Finding, Fix
from bnguard.lint.fix import apply_edits, parses


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before.splitlines(), after.splitlines()).get_opcodes():
        if tag != "equal":
            out.append(("\n".join(before.splitlines()[i1:i2]), "\n".join(after.splitlines()[j1:j2])))
    return out


def test_fix_momentum_then_recheck(tmp_path):
    src = FIXTURES / "workflow" / "fixable" / "layers.py"
    target = tmp_path / "layers.py"
    shutil.copy(src, target)
    before = target.read_text()
    assert len(run_json(str(tmp_path), "--no-cache")["findings"]) == 2
    res = run_check(str(tmp_path), "--fix")
    assert res.exit_code == 0, res.output
    assert "Fixed 2 problems" in res.stderr
    after = target.read_text()
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []  # nothing left
    ast.parse(after)  # still parses
    # nothing else changed: exactly the two momentum values, comments and spacing kept
    assert _changed_lines(before, after) == [
        ("        nn.BatchNorm2d(cout, momentum=0.99),   # ported from Keras",
         "        nn.BatchNorm2d(cout, momentum=0.01),   # ported from Keras"),
        ("    return nn.BatchNorm1d(c, eps=1e-3, momentum=0.9)",
         "    return nn.BatchNorm1d(c, eps=1e-3, momentum=0.1)"),
    ]


def test_diff_prints_a_unified_diff_and_changes_nothing(tmp_path):
    target = write(tmp_path, "m.py", "import torch.nn as nn\r\n\r\nbn = nn.BatchNorm2d(64, momentum=0.99)  # keep me\r\n")
    before = target.read_bytes()
    res = run_check(str(tmp_path), "--diff")
    assert res.exit_code == 1
    assert "-bn = nn.BatchNorm2d(64, momentum=0.99)  # keep me" in res.stdout
    assert "+bn = nn.BatchNorm2d(64, momentum=0.01)  # keep me" in res.stdout
    assert target.read_bytes() == before
    # --fix keeps the CRLF line endings
    assert run_check(str(tmp_path), "--fix").exit_code == 0
    assert target.read_bytes() == before.replace(b"0.99", b"0.01")


def test_suppressed_findings_are_not_fixed(tmp_path):
    target = write(tmp_path, "m.py", "import torch.nn as nn\n\nbn = nn.BatchNorm2d(64, momentum=0.99)  # noqa: BN304\n")
    before = target.read_text()
    assert run_check(str(tmp_path), "--fix").exit_code == 0
    assert target.read_text() == before


def test_overlapping_fixes_are_applied_one_at_a_time_and_unparsable_results_rejected():
    text = "x = f(a, b)\n"
    f1 = Finding("m.py", 1, 6, "BN999", "t", "m")
    f2 = Finding("m.py", 1, 6, "BN998", "t", "m")
    out, applied = apply_edits(text, [(f1, Fix("a->c", (Edit(1, 6, 1, 7, "c"),))),
                                      (f2, Fix("a,b->d", (Edit(1, 6, 1, 10, "d"),)))])
    assert out == "x = f(c, b)\n" and applied == [f1]
    assert parses("x = f(c, b)\n") is None
    assert "would not parse" in parses("x = f(c, \n")


def test_edit_columns_are_utf8_byte_offsets_like_ast():
    text = "s = 'é'; bn = BN(momentum=0.99)\n"
    node = ast.parse(text).body[1].value.keywords[0].value
    f = Finding("m.py", 1, node.col_offset, "BN999", "t", "m")
    out, _ = apply_edits(text, [(f, Fix("m", (Edit(1, node.col_offset, 1, node.end_col_offset, "0.01"),)))])
    assert out == "s = 'é'; bn = BN(momentum=0.01)\n"
