"""Notebook support: a ``.ipynb`` is its code cells joined into one Python text (issue 4 extends)."""
from __future__ import annotations

import json

from bnguard.lint.finding import FileError
from bnguard.lint.source import SourceUnit


def notebook_unit(path: str, data: bytes) -> SourceUnit | FileError:
    try:
        nb = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return FileError(path, f"invalid notebook: {exc}")
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return FileError(path, "invalid notebook: no 'cells' list")
    text_parts: list[str] = []
    starts: list[int] = []
    ids: list[int] = []
    line = 1
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        if isinstance(src, list):
            src = "".join(s for s in src if isinstance(s, str))
        if not isinstance(src, str):
            continue
        lines = []
        for ln in src.splitlines():
            s = ln.lstrip()
            # IPython magics and shell escapes are not Python: keep the line count, drop the text.
            lines.append("" if s.startswith(("%", "!", "?")) or s.endswith("?") and s[:-1].isidentifier() else ln)
        if src.lstrip().startswith("%%"):
            lines = [""] * len(lines)
        starts.append(line)
        ids.append(i)
        text_parts.append("\n".join(lines) + "\n")
        line += len(lines) or 1
        if not lines:
            text_parts[-1] = "\n"
    return SourceUnit(path=path, text="".join(text_parts), cell_starts=starts, cell_ids=ids)
