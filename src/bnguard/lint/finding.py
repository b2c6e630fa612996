"""What the linter reports: findings (with optional fixes) and per-file errors."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Optional


@dataclass(frozen=True)
class Edit:
    """Replace the source text between (line, col) and (end_line, end_col) with ``text``.

    Lines are 1-based, columns 0-based (like ``ast``), positions in the *original file* (for a
    notebook: in the cell's own text, with ``cell`` set).
    """

    line: int
    col: int
    end_line: int
    end_col: int
    text: str
    cell: Optional[int] = None


@dataclass(frozen=True)
class Fix:
    description: str
    edits: tuple[Edit, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        edits = []
        for e in self.edits:
            d = asdict(e)
            if d["cell"] is not None:
                d["cell"] += 1  # 1-based in output, like Finding.cell
            edits.append(d)
        return {"description": self.description, "edits": edits}


@dataclass
class Finding:
    path: str
    line: int
    col: int
    code: str
    rule: str
    message: str
    severity: str = "error"  # "error" | "warning" | "info"
    framework: str = ""
    end_line: int = 0
    end_col: int = 0
    fix: Optional[Fix] = None
    cell: Optional[int] = None  # notebook cell index (0-based), None for .py files
    suppressed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def sort_key(self):
        return (self.path, self.cell if self.cell is not None else -1, self.line, self.col, self.code)

    def to_dict(self) -> dict[str, Any]:
        d = {
            "path": self.path,
            "line": self.line,
            "col": self.col + 1,  # 1-based in output, like ruff
            "end_line": self.end_line or self.line,
            "end_col": (self.end_col or self.col) + 1,
            "code": self.code,
            "rule": self.rule,
            "message": self.message,
            "severity": self.severity,
            "framework": self.framework,
            "fix": self.fix.to_dict() if self.fix else None,
        }
        if self.cell is not None:
            d["cell"] = self.cell + 1
        return d


@dataclass
class FileError:
    path: str
    message: str
    line: Optional[int] = None
    # False for entries that say something about a file without making the run fail (an empty file)
    fatal: bool = True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path, "message": self.message}
        if self.line is not None:
            d["line"] = self.line
        return d
