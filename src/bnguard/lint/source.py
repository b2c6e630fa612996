"""Source units: what the engine parses. A ``.py`` file is one unit; a notebook is its code cells
joined into one Python text, with a map back to (cell, line) so findings point at the cell."""
from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class SourceUnit:
    path: str
    text: str  # the Python text that is parsed
    # For notebooks: cell_starts[i] is the 1-based line in ``text`` where code cell i begins, and
    # cell_ids[i] its index among all notebook cells. Empty for plain .py files.
    cell_starts: list[int] = field(default_factory=list)
    cell_ids: list[int] = field(default_factory=list)
    original_text: Optional[str] = None
    # Problems found while building the unit that do not stop the analysis (a notebook cell with
    # invalid Python is blanked out and reported here; the other cells are still checked).
    problems: list = field(default_factory=list)

    @property
    def is_notebook(self) -> bool:
        return bool(self.cell_starts)

    def locate(self, line: int) -> tuple[Optional[int], int]:
        """Map a line of ``text`` to (notebook cell index or None, line within that cell)."""
        if not self.cell_starts:
            return None, line
        import bisect

        i = bisect.bisect_right(self.cell_starts, line) - 1
        i = max(i, 0)
        return self.cell_ids[i], line - self.cell_starts[i] + 1

    def parse(self) -> ast.Module:
        return ast.parse(self.text, filename=self.path, type_comments=False)
