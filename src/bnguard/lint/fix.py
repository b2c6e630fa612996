"""Apply the fixes that rules attach to findings (``bnguard check --fix`` / ``--diff``).

A :class:`~bnguard.lint.finding.Fix` is a set of text edits at positions of the original file
(lines 1-based, columns as ``ast`` gives them: UTF-8 byte offsets). Edits are applied from the end
of the file backwards, so everything outside them — formatting, comments, line endings, encoding —
is untouched. A fix whose edits overlap an already accepted fix waits for the next round (the
command re-checks and re-applies until nothing changes). The result must parse (checked with
LibCST, which also guarantees a lossless round trip); otherwise the file is left as it was.

In a notebook the edits are positions in one cell's source (``Edit.cell``). They are applied to
that cell and the notebook is written back with its own JSON layout, so nothing but the edited
lines changes; a notebook whose JSON no known layout reproduces exactly is not rewritten (the
fix is reported as not applied, and ``--diff`` still shows nothing false).
"""
from __future__ import annotations

import difflib
import io
import json
import textwrap
import tokenize
from dataclasses import dataclass, field
from typing import Iterable, Optional

from bnguard.lint.finding import Edit, FileError, Finding, Fix


@dataclass
class FileFix:
    path: str
    original: str
    fixed: str
    applied: list[Finding] = field(default_factory=list)
    error: Optional[str] = None  # why nothing was written
    encoding: Optional[str] = None  # set for notebooks (a .py file's is read from its coding line)

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
    """Group fixable, unsuppressed findings per file and compute the fixed text."""
    by_path: dict[str, list[tuple[Finding, Fix]]] = {}
    notebooks: dict[str, list[tuple[Finding, Fix]]] = {}
    for f in findings:
        if f.fix is None or f.suppressed or not f.fix.edits:
            continue
        if f.cell is not None or any(e.cell is not None for e in f.fix.edits):
            notebooks.setdefault(f.path, []).append((f, f.fix))
        else:
            by_path.setdefault(f.path, []).append((f, f.fix))
    plans = [_plan_notebook(path, fixes) for path, fixes in sorted(notebooks.items())]
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


def _plan_notebook(path: str, fixes: list[tuple[Finding, Fix]]) -> FileFix:
    from bnguard.lint import notebook

    try:
        with open(path, "rb") as fh:
            decoded = notebook.decode(path, fh.read())
    except OSError as exc:
        return FileFix(path, "", "", error=f"cannot read file: {exc}")
    if isinstance(decoded, FileError):
        return FileFix(path, "", "", error=decoded.message)
    original, encoding = decoded
    try:
        nb = json.loads(original)
    except (ValueError, RecursionError):
        return FileFix(path, original, original, error="invalid notebook: not JSON")
    cells = notebook.cells_of(nb)
    layout = notebook.json_layout(original, nb)
    if cells is None or layout is None:
        return FileFix(path, original, original, encoding=encoding,
                       error="the notebook's JSON layout is not one bnguard can reproduce exactly; apply the fix by hand")
    by_cell: dict[int, list[tuple[Finding, Fix]]] = {}
    for finding, fix in fixes:
        where = {e.cell for e in fix.edits}
        if len(where) == 1 and None not in where:  # a fix edits one cell (rules never span cells)
            by_cell.setdefault(where.pop(), []).append((finding, fix))
    applied: list[Finding] = []
    for index, cell_fixes in sorted(by_cell.items()):
        cell = cells[index] if 0 <= index < len(cells) else None
        src = notebook.cell_source(cell) if isinstance(cell, dict) else None
        if src is None:
            continue
        shifted = _cell_fixes(src, cell_fixes)
        shifted.sort(key=lambda ff: (ff[0].line, ff[0].col, ff[0].code))
        new_src, done = apply_edits(src, shifted)
        if not done:
            continue
        if parses("\n".join(notebook.python_lines(new_src)) + "\n") is not None:
            return FileFix(path, original, original, encoding=encoding,
                           error=f"cell {index + 1}: fixed code would not parse")
        notebook.set_cell_source(cell, new_src)
        applied.extend(done)
    fixed = notebook.dump(nb, layout) if applied else original
    return FileFix(path, original, fixed, applied, encoding=encoding)


def _cell_fixes(src: str, fixes: list[tuple[Finding, Fix]]) -> list[tuple[Finding, Fix]]:
    """The fixes with their edits moved from the checked text of a cell to its source: columns
    shift by the indentation the cell shares on every line (IPython dedents it). Fixes that touch a
    line the checker replaced (a magic, a shell escape) or insert lines into an indented cell are
    left out."""
    from bnguard.lint import notebook

    source_lines = src.splitlines()
    dedented = textwrap.dedent(src).splitlines()
    checked = notebook.python_lines(src)
    margin = 0
    for a, b in zip(source_lines, dedented):
        if b.strip():
            margin = len(a.encode("utf-8")) - len(b.encode("utf-8"))
            break
    out = []
    for finding, fix in fixes:
        lines = {ln for e in fix.edits for ln in range(e.line, e.end_line + 1)}
        if any(not (1 <= ln <= len(checked)) or checked[ln - 1] != dedented[ln - 1] for ln in lines):
            continue
        if margin and any("\n" in e.text for e in fix.edits):
            continue
        edits = tuple(Edit(e.line, e.col + margin, e.end_line, e.end_col + margin, e.text) for e in fix.edits)
        out.append((finding, Fix(fix.description, edits)))
    return out


def write(plan: FileFix) -> None:
    if plan.encoding is not None:
        with open(plan.path, "wb") as fh:
            fh.write(plan.fixed.encode(plan.encoding))
        return
    _, encoding = read_python(plan.path)
    with open(plan.path, "wb") as fh:
        fh.write(plan.fixed.encode(encoding))


def edit_for(module, node, text: str) -> Edit:
    """An edit replacing ``node``'s source with ``text`` (for rule authors)."""
    return Edit(node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, text)
