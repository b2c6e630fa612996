"""Rule base class, documentation record and registry.

A rule is a small class: metadata (code, name, framework, severity, docs) and ``check(module,
project)`` yielding findings. Rules read shared facts from ``Module``/``Project`` (import
resolution, call indexes, value resolution) instead of re-walking the tree for their own needs.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from dataclasses import dataclass
from typing import Iterable, Optional

from bnguard.lint.finding import Finding, Fix
from bnguard.lint.project import Module, Project


@dataclass(frozen=True)
class RuleDoc:
    what: str  # what it does
    why: str  # why it is bad
    example: str  # code that is flagged
    use_instead: str  # the fix
    not_flagged: str = ""  # deliberate uses it stays silent on
    versions: str = ""  # framework versions covered

    def render(self, rule: "Rule") -> str:
        out = [f"# {rule.code} {rule.name} ({rule.framework}, severity: {rule.severity}"
               + ("" if rule.default_enabled else ", off by default: enable with --select") + ")", "",
               rule.summary, "", "## What it does", self.what.strip(), "", "## Why is this bad?", self.why.strip(), "",
               "## Example", "```python", self.example.strip("\n"), "```", "", "## Use instead", "```python",
               self.use_instead.strip("\n"), "```"]
        if self.not_flagged:
            out += ["", "## Not flagged", self.not_flagged.strip()]
        if self.versions:
            out += ["", "## Framework versions", self.versions.strip()]
        return "\n".join(out) + "\n"


class Rule:
    code: str = ""
    name: str = ""  # kebab-case, e.g. "training-flag-always-false"
    framework: str = ""  # "tensorflow" | "keras" | "pytorch" | "flax" | ...
    severity: str = "error"
    default_enabled: bool = True  # low-confidence rules are off unless --select asks for them
    summary: str = ""  # one line
    doc: Optional[RuleDoc] = None
    # Substrings without which a file cannot produce a finding of this rule by itself. The engine's
    # pre-filter uses them to skip parsing irrelevant files; project-wide facts (call sites, feeds)
    # are handled separately by the engine, so list only what the *reported* file must contain.
    triggers: tuple[str, ...] = ()

    def check(self, module: Module, project: Project) -> Iterable[Finding]:  # pragma: no cover
        raise NotImplementedError

    def finding(self, module: Module, node: ast.AST, message: str, *, fix: Optional[Fix] = None,
                severity: Optional[str] = None, **extra) -> Finding:
        line = getattr(node, "lineno", 1)
        cell, cell_line = module.unit.locate(line)
        end_line = getattr(node, "end_lineno", line) or line
        _, cell_end_line = module.unit.locate(end_line)
        return Finding(
            path=module.path,
            line=cell_line,
            col=getattr(node, "col_offset", 0),
            end_line=cell_end_line,
            end_col=getattr(node, "end_col_offset", 0) or 0,
            code=self.code,
            rule=self.name,
            message=message,
            severity=severity or self.severity,
            framework=self.framework,
            fix=fix,
            cell=cell,
            extra=extra,
        )


REGISTRY: dict[str, Rule] = {}


def register(cls: type[Rule]) -> type[Rule]:
    """Class decorator: instantiate and register a rule under its code."""
    inst = cls()
    if inst.code in REGISTRY:
        raise ValueError(f"duplicate rule code {inst.code}")
    REGISTRY[inst.code] = inst
    return cls


def all_rules() -> dict[str, Rule]:
    """Import every module of ``bnguard.lint.rules`` once (each registers its rules)."""
    import bnguard.lint.rules as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    return dict(sorted(REGISTRY.items()))
