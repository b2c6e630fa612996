"""Suppression comments, with flake8/ruff conventions.

* ``x = f()  # noqa`` — every finding reported on that line;
* ``x = f()  # noqa: BN301, BN1`` — only those codes (or prefixes) on that line;
* ``# bnguard: noqa`` on a line of its own anywhere in the file — the whole file
  (``# bnguard: noqa: BN301`` — those codes in the whole file). ``# flake8: noqa`` is honoured too.

For a finding that spans several lines the comment may sit on its first or its last line. Comments
are read with :mod:`tokenize`, so ``"# noqa"`` inside a string does not suppress anything.
"""
from __future__ import annotations

import io
import re
import tokenize
from dataclasses import dataclass, field
from typing import Iterable, Optional

_CODES = r"(?P<codes>[A-Za-z]+[0-9]*(?:\s*,?\s*[A-Za-z]+[0-9]+)*)"
LINE_NOQA = re.compile(r"#\s*noqa(?::\s*" + _CODES + r")?", re.IGNORECASE)
FILE_NOQA = re.compile(r"^#\s*(?:bnguard|flake8)\s*:\s*noqa(?::\s*" + _CODES + r")?\s*$", re.IGNORECASE)

ALL = None  # "every code"


@dataclass
class Suppressions:
    # line (1-based, in the parsed text) -> codes, or None for a blanket ``# noqa``
    lines: dict[int, Optional[frozenset[str]]] = field(default_factory=dict)
    file_all: bool = False
    file_codes: frozenset[str] = frozenset()

    def covers(self, code: str, lines: Iterable[int]) -> bool:
        if self.file_all or _matches(code, self.file_codes):
            return True
        for ln in lines:
            if ln in self.lines:
                codes = self.lines[ln]
                if codes is None or _matches(code, codes):
                    return True
        return False


def _matches(code: str, selectors: frozenset[str]) -> bool:
    return any(code.startswith(s) for s in selectors)


def _codes(text: Optional[str]) -> Optional[frozenset[str]]:
    if not text:
        return None
    return frozenset(c.upper() for c in re.split(r"[\s,]+", text) if c)


def scan(text: str) -> Suppressions:
    """Collect the suppression comments of a Python text (cheap when it has none)."""
    sup = Suppressions()
    if "noqa" not in text and "NOQA" not in text.upper():
        return sup
    try:
        comments = [(tok.start[0], tok.string, tok.line) for tok in
                    tokenize.generate_tokens(io.StringIO(text).readline) if tok.type == tokenize.COMMENT]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        comments = _comments_by_regex(text)
    for line, comment, physical in comments:
        own_line = physical.strip().startswith("#")
        m = FILE_NOQA.match(comment.strip())
        if m and own_line:
            codes = _codes(m.group("codes"))
            if codes is None:
                sup.file_all = True
            else:
                sup.file_codes |= codes
            continue
        m = LINE_NOQA.search(comment)
        if m:
            codes = _codes(m.group("codes"))
            prev = sup.lines.get(line, frozenset())
            sup.lines[line] = None if codes is None or prev is None else prev | codes
    return sup


def _comments_by_regex(text: str):
    # Fallback for text tokenize rejects (it already parsed with ast, so this is rare).
    for i, line in enumerate(text.splitlines(), 1):
        pos = line.find("#")
        if pos >= 0:
            yield i, line[pos:], line


def apply(findings, unit) -> None:
    """Mark findings of one source unit as ``suppressed`` in place."""
    if not findings:
        return
    sup = scan(unit.text)
    if not (sup.lines or sup.file_all or sup.file_codes):
        return
    for f in findings:
        first = _text_line(unit, f.cell, f.line)
        last = _text_line(unit, f.cell, f.end_line or f.line)
        if sup.covers(f.code, {first, last}):
            f.suppressed = True


def _text_line(unit, cell: Optional[int], line: int) -> int:
    """Line in the parsed text for a finding's (cell, line)."""
    if cell is None or not unit.cell_starts:
        return line
    try:
        i = unit.cell_ids.index(cell)
    except ValueError:
        return line
    return unit.cell_starts[i] + line - 1
