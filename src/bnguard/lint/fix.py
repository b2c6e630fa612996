"""Apply the fixes that rules attach to findings (``bnguard check --fix`` / ``--diff``).

A :class:`~bnguard.lint.finding.Fix` is a set of text edits at positions of the original file
(lines 1-based, columns as ``ast`` gives them: UTF-8 byte offsets). Edits are applied from the end
of the file backwards, so everything outside them — formatting, comments, line endings, encoding —
is untouched. A fix whose edits overlap an already accepted fix waits for the next round (the
command re-checks and re-applies until nothing changes). The result must parse (checked with
LibCST, which also guarantees a lossless round trip); otherwise the file is left as it was.
"""
from __future__ import annotations

import difflib
import io
import tokenize
from dataclasses import dataclass, field
from typing import Iterable, Optional

from bnguard.lint.finding import Edit, Finding, Fix


@dataclass
class FileFix:
    path: str
    original: str
    fixed: str
    applied: list[Finding] = field(default_factory=list)
    error: Optional[str] = None  # why nothing was written

    @property
    def changed(self) -> bool:
        return self.error is None and self.fixed != self.original

    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.original.splitlines(keepends=True),
                                            self.fixed.splitlines(keepends=True),
                                            fromfile=f"a/{self.path}", tofile=f"b/{self.path}"))


def read_python(path: str) -> tuple[str, str]:
    """(text, encoding) of a Python file, newlines preserved."""
    with open(path, "rb") as fh:
        data = fh.read()
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding), encoding


def _offset(lines: list[str], line: int, col: int) -> int:
    """Character offset in the joined text of (1-based line, UTF-8 byte column)."""
    start = sum(len(lines[i]) for i in range(min(line - 1, len(lines))))
    if line - 1 >= len(lines):
        return start
    text = lines[line - 1]
    return start + len(text.encode("utf-8")[:col].decode("utf-8", errors="ignore"))


def apply_edits(text: str, fixes: Iterable[tuple[Finding, Fix]]) -> tuple[str, list[Finding]]:
    """Apply non-overlapping fixes; returns the new text and the findings whose fix was applied."""
    lines = text.splitlines(keepends=True)
    accepted: list[tuple[int, int, str]] = []
    applied: list[Finding] = []
    for finding, fix in fixes:
        spans = []
        for e in fix.edits:
            a, b = _offset(lines, e.line, e.col), _offset(lines, e.end_line, e.end_col)
            if b < a:
                break
            spans.append((a, b, e.text))
        else:
            if spans and not any(_overlap(s, t) for s in spans for t in accepted) and not _self_overlap(spans):
                accepted.extend(spans)
                applied.append(finding)
    out = text
    for a, b, new in sorted(accepted, key=lambda s: (s[0], s[1]), reverse=True):
        out = out[:a] + new + out[b:]
    return out, applied


def _overlap(s, t) -> bool:
    # Two insertions at the same point also conflict (their order would be arbitrary).
    return s[0] < t[1] and t[0] < s[1] or s[0] == t[0]


def _self_overlap(spans) -> bool:
    ordered = sorted(spans)
    return any(ordered[i][1] > ordered[i + 1][0] for i in range(len(ordered) - 1))


def parses(text: str) -> Optional[str]:
    """None if LibCST (and ``ast``) accept the text, else the reason."""
    import ast

    import libcst

    try:
        module = libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        return f"fixed code would not parse: {str(exc).splitlines()[0]}"
    if module.code != text:  # pragma: no cover - LibCST round trips by design
        return "fixed code would not round-trip"
    try:
        ast.parse(text)
    except SyntaxError as exc:
        return f"fixed code would not parse: {exc.msg} (line {exc.lineno})"
    return None


def plan_fixes(findings: Iterable[Finding]) -> list[FileFix]:
    """Group fixable, unsuppressed findings of ``.py`` files per file and compute the fixed text."""
    by_path: dict[str, list[tuple[Finding, Fix]]] = {}
    for f in findings:
        if f.fix is None or f.suppressed or not f.fix.edits:
            continue
        if f.cell is not None or any(e.cell is not None for e in f.fix.edits):
            continue  # notebook fixes are shown, not applied: rewriting .ipynb JSON is not lossless
        by_path.setdefault(f.path, []).append((f, f.fix))
    plans = []
    for path, fixes in sorted(by_path.items()):
        try:
            original, _ = read_python(path)
        except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
            plans.append(FileFix(path, "", "", error=f"cannot read file: {exc}"))
            continue
        fixes.sort(key=lambda ff: (ff[0].line, ff[0].col, ff[0].code))
        fixed, applied = apply_edits(original, fixes)
        plan = FileFix(path, original, fixed, applied)
        if fixed != original:
            plan.error = parses(fixed)
        plans.append(plan)
    return plans


def write(plan: FileFix) -> None:
    _, encoding = read_python(plan.path)
    with open(plan.path, "wb") as fh:
        fh.write(plan.fixed.encode(encoding))


def edit_for(module, node, text: str) -> Edit:
    """An edit replacing ``node``'s source with ``text`` (for rule authors)."""
    return Edit(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text)
