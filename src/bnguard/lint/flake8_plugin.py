"""flake8 plugin: ``flake8 --select BN`` runs bnguard's rules, one file at a time.

flake8 hands a plugin one file, so this is *single-file mode*: the project is that file alone.
Facts that bnguard normally takes from the other files of the project are lost here:

* call sites in other files (``net(x, is_training=True)`` in ``train.py`` clearing a builder
  ``def net(x, is_training=False)`` in ``model.py``) — the parameter's default is all it sees;
* feeds of a placeholder (``feed_dict``) and consumers of ``UPDATE_OPS`` in other files;
* ``model.train()`` / ``model.eval()`` calls and training loops in other files;
* helper functions defined in other files (wrappers around BN layers, train-op builders).

Rules are precision-first, so most of them stay silent when a fact is missing, but a finding that
``bnguard check`` would clear through another file can appear. Use ``bnguard check`` over the
whole project for the full analysis. Only rules that are on by default run; ``# noqa`` is handled
by flake8 itself.
"""
from __future__ import annotations

from typing import Iterator, Sequence

from bnguard import __version__


class BNGuardFlake8:
    name = "bnguard"
    version = __version__

    def __init__(self, tree, filename: str = "stdin", lines: Sequence[str] = ()):
        self.tree = tree
        self.filename = filename
        self.lines = list(lines)

    def run(self) -> Iterator[tuple[int, int, str, type]]:
        from bnguard.lint.engine import lint_modules
        from bnguard.lint.project import Module
        from bnguard.lint.source import SourceUnit

        text = "".join(self.lines)
        if not text and self.filename not in ("stdin", "-"):
            try:
                with open(self.filename, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError):
                return
        unit = SourceUnit(path=self.filename, text=text)
        try:
            module = Module(unit, self.tree)
        except RecursionError:
            return
        for f in lint_modules([module]).findings:
            yield f.line, f.col, f"{f.code} {f.message}", type(self)
