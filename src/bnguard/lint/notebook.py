"""Notebook support: a ``.ipynb`` is its code cells joined into one Python text.

* Each code cell starts on a known line of the joined text, so findings map back to
  ``path:cell:line`` (``SourceUnit.locate``); cells are numbered among *all* cells of the notebook.
* IPython syntax is not Python: line magics (``%time``), cell magics (``%%bash`` — the whole cell),
  shell escapes (``!pip``), captured shell/magic output (``files = !ls``, ``t = %timeit -o f()``),
  help (``obj?``, ``??obj``) and, in a cell that does not parse otherwise, automagics (``pip install
  x``, ``matplotlib inline``: a known magic name starting a line that is not Python on its own)
  become ``pass`` at the line's own indentation (so a magic that is
  the only body of an ``if`` block stays valid Python), keeping the line numbers.
* A cell whose lines all share a leading indentation is dedented, as IPython does.
* A cell with invalid Python is blanked out and reported (``SourceUnit.problems``); the other cells
  are still checked. Outputs are never looked at, so a notebook with many MB of outputs costs one
  JSON parse.
* A broken notebook (not JSON, no cells, not UTF-8) is a :class:`FileError`. Both nbformat 4
  (``cells``/``source``) and nbformat 3 (``worksheets``/``input``) are read.
* Fixes are written back into the cells only when the notebook's JSON can be reproduced byte for
  byte (``json_layout``): the file then differs from the original in the edited lines alone.
"""
from __future__ import annotations

import ast
import io
import json
import re
import textwrap
import tokenize
from typing import Any

from bnguard.lint.finding import FileError
from bnguard.lint.source import SourceUnit

# `x = !ls`, `a, b = %sx cmd`, `n, = !wc -l f`: IPython captures the output of a shell command or magic.
_CAPTURE = re.compile(r"^\s*[A-Za-z_][\w.\[\]'\"]*(\s*,\s*[A-Za-z_][\w.]*)*\s*,?\s*=\s*[!%]")
BACKSLASH = chr(92)
_HELP = re.compile(r"^\s*(\?\??[\w.]+|[\w.]+\?\??)\s*$")
# Automagic: IPython runs a line magic written without its `%` (`pip install x`, `cd data`,
# `matplotlib inline`). Such a line is only taken for one when it is not Python on its own.
_AUTOMAGIC = re.compile(r"^\s*(pip|conda|mamba|micromamba|cd|ls|mkdir|rmdir|cat|cp|mv|rm|pwd|env|set_env|"
                        r"load_ext|reload_ext|matplotlib|pylab|time|timeit|run|who|whos|history|config|"
                        r"tensorflow_version|autoreload|aimport|sx|system|bookmark|dhist|alias)\s+\S")


def _automagic(line: str) -> bool:
    if not _AUTOMAGIC.match(line):
        return False
    try:
        compile(line.strip(), "<cell>", "exec")
    except SyntaxError:
        return True
    return False


def decode(path: str, data: bytes) -> tuple[str, str] | FileError:
    """(text, encoding to write it back with) of a notebook file, or why it cannot be read."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        read, write = "utf-16", "utf-16"
    else:
        read, write = "utf-8-sig", "utf-8-sig" if data.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        return data.decode(read), write
    except UnicodeDecodeError as exc:
        return FileError(path, f"invalid notebook: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})")


def cells_of(nb: Any) -> list | None:
    """Every cell of a parsed notebook, in order (the numbering of ``Finding.cell``)."""
    if not isinstance(nb, dict):
        return None
    if isinstance(nb.get("cells"), list):
        return nb["cells"]
    worksheets = nb.get("worksheets")  # nbformat 3
    if isinstance(worksheets, list):
        cells = []
        for ws in worksheets:
            if isinstance(ws, dict) and isinstance(ws.get("cells"), list):
                cells.extend(ws["cells"])
        return cells
    return None


def cell_source(cell: dict) -> str | None:
    """The cell's source text (``source`` or nbformat 3's ``input``, a string or a list of lines)."""
    src = cell.get("source", cell.get("input", ""))
    if isinstance(src, list):
        if not all(isinstance(s, str) for s in src):
            return None
        return "".join(src)
    return src if isinstance(src, str) else None


def set_cell_source(cell: dict, src: str) -> None:
    """Store ``src`` the way the cell held its source: a list of lines or one string."""
    key = "source" if "source" in cell or "input" not in cell else "input"
    cell[key] = src.splitlines(keepends=True) if isinstance(cell.get(key), list) else src


# How notebook writers lay their JSON out: nbformat (Jupyter, VS Code, Colab) writes indent=1,
# sorted keys, non-ASCII kept, and a final newline; other tools differ in one of these.
_LAYOUTS = [dict(indent=indent, sort_keys=sort_keys, ensure_ascii=ascii_)
            for indent in (1, 2, 4, None) for sort_keys in (True, False) for ascii_ in (False, True)]


def json_layout(text: str, nb: Any) -> dict | None:
    """The ``json.dumps`` arguments (plus final newline and line ending) that reproduce ``text``
    exactly from ``nb``, or None when no known layout does (the notebook cannot be rewritten
    without reformatting it)."""
    crlf = "\r\n" in text
    plain = text.replace("\r\n", "\n") if crlf else text
    for layout in _LAYOUTS:
        out = json.dumps(nb, **layout)
        for end in ("\n", ""):
            if plain == out + end:
                return {**layout, "end": end, "crlf": crlf}
    return None


def dump(nb: Any, layout: dict) -> str:
    """Serialise ``nb`` with a layout found by ``json_layout``."""
    args = {k: v for k, v in layout.items() if k not in ("end", "crlf")}
    out = json.dumps(nb, **args) + layout["end"]
    return out.replace("\n", "\r\n") if layout["crlf"] else out


def _continues_statement(previous: list[str]) -> bool:
    """Do the Python lines so far leave a statement open (an unclosed bracket, a backslash)? Then a
    line starting with ``%`` or ``!`` continues it (``% (epoch, loss))`` after a format string), it
    is no magic: IPython recognises magics only where a statement starts."""
    if not previous or not any(ln.strip() for ln in previous):
        return False
    last = next(ln for ln in reversed(previous) if ln.strip())
    if last.rstrip().endswith(BACKSLASH):
        return True
    try:
        for _tok in tokenize.generate_tokens(io.StringIO("\n".join(previous) + "\n").readline):
            pass
    except tokenize.TokenError:
        return True  # EOF inside a bracket (or a string)
    except (SyntaxError, ValueError):
        return False
    return False


def python_lines(src: str, automagic: bool = False) -> list[str]:
    """The cell's lines with IPython-only syntax replaced by ``pass`` (nothing on continuations);
    with ``automagic``, also the lines that look like a magic written without its ``%``."""
    lines = textwrap.dedent(src).splitlines()
    if src.lstrip().startswith("%%"):
        return [""] * len(lines)
    out = []
    continuing = False  # a magic or shell line ending in a backslash continues on the next line
    last_was_magic = after_magic = True  # at the top of a cell, no statement is open
    for ln in lines:
        s = ln.lstrip()
        if s:
            after_magic = last_was_magic  # the line before this one (blank lines aside) was a magic
            last_was_magic = True  # until shown otherwise below
        if continuing:
            out.append("")
        elif (s.startswith(("%", "!")) and (after_magic or not _continues_statement(out))) or _CAPTURE.match(ln) or _HELP.match(ln) \
                or (automagic and _automagic(ln)):
            out.append(ln[: len(ln) - len(s)] + "pass")
        else:
            out.append(ln)
            if s:
                last_was_magic = False
            continue
        continuing = ln.rstrip().endswith(BACKSLASH)
    return out


def notebook_unit(path: str, data: bytes) -> SourceUnit | FileError:
    decoded = decode(path, data)
    if isinstance(decoded, FileError):
        return decoded
    text, _ = decoded
    try:
        nb = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        return FileError(path, f"invalid notebook: not JSON ({exc})" if not isinstance(exc, RecursionError)
                         else "invalid notebook: JSON nested too deeply")
    cells = cells_of(nb)
    if cells is None:
        return FileError(path, "invalid notebook: no 'cells' list")
    parts: list[str] = []
    starts: list[int] = []
    ids: list[int] = []
    problems: list[FileError] = []
    line = 1
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell_source(cell)
        if src is None:
            problems.append(FileError(path, f"cell {i + 1}: invalid notebook cell: 'source' is not text"))
            continue
        lines = python_lines(src)
        try:
            try:
                ast.parse("\n".join(lines))
            except SyntaxError:
                # only a cell that is not Python as it stands is read with automagics: a line such
                # as `history = model.fit(x,` must never be taken for the `history` magic
                magic = python_lines(src, automagic=True)
                if magic == lines:
                    raise
                ast.parse("\n".join(magic))
                lines = magic
        except SyntaxError as exc:
            problems.append(FileError(path, f"syntax error at cell {i + 1}, line {exc.lineno or 0}: {exc.msg}",
                                      line=exc.lineno or None))
            lines = [""] * len(lines)  # keep the line count; the rest of the notebook is still checked
        except (ValueError, RecursionError, MemoryError) as exc:
            problems.append(FileError(path, f"cell {i + 1}: cannot parse: {type(exc).__name__}"))
            lines = [""] * len(lines)
        starts.append(line)
        ids.append(i)
        parts.append("\n".join(lines) + "\n" if lines else "\n")
        line += len(lines) or 1
    return SourceUnit(path=path, text="".join(parts), cell_starts=starts, cell_ids=ids, problems=problems)
