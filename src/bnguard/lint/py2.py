"""Python 2 sources: many TF1 repositories (the code where BN freezes were reported) are Python 2.

When a file does not parse as Python 3, it is translated with the few rewrites that keep every line
where it was (print statements, ``except E, e``, ``raise E, msg``, ``exec``, backquotes, ``<>``,
``0777``/``10L`` literals, Python 2 tab widths, ``async`` used as a name before Python 3.7), so
findings still point at the right line. Newer sources get the same treatment for the Python 3.12
type parameters (``def f[T]``, ``type X = ...``) when the running Python is older. Uses
``lib2to3`` where the running Python still ships it (3.10-3.12), a line-based fallback otherwise.
"""
from __future__ import annotations

import ast
import re
import warnings
from typing import Optional

_FIXERS = ["print", "except", "raise", "exec", "ne", "numliterals", "repr", "has_key", "unicode", "tuple_params"]
_PRINT = re.compile(r"^(\s*)print\b(?!\s*\()\s*(.*?)\s*(#.*)?$")
_EXCEPT = re.compile(r"^(\s*except\s+[^,:]+?)\s*,\s*([A-Za-z_]\w*)\s*:")


def _expand_tabs(text: str) -> str:
    """Python 2 read a tab in indentation as 'to the next multiple of 8'."""
    out = []
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip(" \t")
        indent = line[: len(line) - len(stripped)]
        out.append(indent.expandtabs(8) + stripped if "\t" in indent else line)
    return "".join(out)


def _lib2to3(text: str) -> Optional[str]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from lib2to3 import refactor
    except ImportError:
        return None
    try:
        tool = refactor.RefactoringTool([f"lib2to3.fixes.fix_{f}" for f in _FIXERS])
        if not text.endswith("\n"):
            text += "\n"
        return str(tool.refactor_string(text, "<py2>"))
    except Exception:  # noqa: BLE001 - lib2to3 raises its own parse errors; fall back
        return None


def _line_fallback(text: str) -> str:
    out = []
    for line in text.splitlines():
        m = _PRINT.match(line)
        if m and not m.group(2).startswith(("=", ".")):
            body = m.group(2).rstrip(",")
            if body.startswith(">>"):
                body = ""
            line = f"{m.group(1)}print({body})" + (f"  {m.group(3)}" if m.group(3) else "")
        line = _EXCEPT.sub(r"\1 as \2:", line)
        out.append(line)
    return "\n".join(out) + "\n"


# ``async`` was an ordinary name before Python 3.7: pre-0.4 PyTorch code says ``.cuda(async=True)``.
# Renamed to a name of the same length, so columns stay where they were.
_ASYNC_NAME = re.compile(r"\basync\b(?!\s+(?:def|for|with)\b)")


# Python 3.12 type parameters (PEP 695), which an older running Python cannot parse:
# ``def f[T](x)`` / ``class C[T](Base)`` lose the brackets (blanked: columns stay), ``type X = Y``
# becomes ``X = Y``.
_TYPE_PARAMS_AT = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+\w+[ \t]*\[", re.M)
_TYPE_ALIAS = re.compile(r"^([ \t]*)type[ \t]+(\w+)[ \t]*(\[[^\n=]*\])?[ \t]*=", re.M)


def _without_type_params(text: str) -> str:
    chars = list(text)
    for m in _TYPE_PARAMS_AT.finditer(text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            if text[i] == "[":
                depth += 1
            elif text[i] == "]":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        for j in range(m.end() - 1, min(i + 1, len(text))):
            if chars[j] != "\n":
                chars[j] = " "
    return _TYPE_ALIAS.sub(lambda a: f"{a.group(1)}{a.group(2)} =", "".join(chars))


def translate(text: str) -> Optional[str]:
    """Python 3 text with the same lines as the Python 2 (or pre-3.7) ``text``, or None if that
    fails."""
    expanded = _expand_tabs(text)
    # cheapest first: lib2to3 parses in pure Python (~0.1 s per file)
    for make in (lambda: expanded, lambda: _without_type_params(expanded), lambda: _line_fallback(expanded),
                 lambda: _lib2to3(expanded)):
        candidate = make()
        if candidate is None:
            continue
        versions = (candidate, _ASYNC_NAME.sub("_sync", candidate)) if "async" in candidate else (candidate,)
        for version in versions:
            try:
                ast.parse(version)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            if version.count("\n") != expanded.count("\n") + (0 if expanded.endswith("\n") else 1) and \
                    version.count("\n") != expanded.count("\n"):
                continue  # a rewrite that moved lines would misplace findings
            return version
    return None
