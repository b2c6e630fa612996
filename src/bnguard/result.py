"""One result type for every run-time check: graph check, probes, inspect, recalibrate.

A `Report` is a list of per-layer results plus a little metadata. Each producer decides which
verdicts count as healthy (``ok_verdicts``); everything else is a problem.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

__all__ = ["LayerResult", "Report", "BNProblem", "DEFAULT_OK_VERDICTS"]

# Verdicts that mean "nothing wrong" across producers. A producer may pass its own set.
DEFAULT_OK_VERDICTS = frozenset({"ok", "updated", "recalibrated", "unchanged-as-expected"})


@dataclass
class LayerResult:
    """The verdict for one BN layer.

    ``verdict`` is a kebab-case name from the issue that defines the producer (``ok``,
    ``frozen-eval-mode``, ``never-updated``, ...). ``detail`` is one human sentence. ``data`` holds
    extra JSON-able fields (channels, observed momentum, mean/var summaries) that ``to_dict`` merges in.
    """

    name: str
    verdict: str
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "verdict": self.verdict, "detail": self.detail}
        for k, v in self.data.items():
            if k not in d:
                d[k] = _jsonable(v)
        return d


class BNProblem(Exception):
    """Raised by `Report.raise_if_problems()`; carries the report."""

    def __init__(self, report: "Report"):
        self.report = report
        bad = report.problems
        names = ", ".join(f"{r.name} ({r.verdict})" for r in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        super().__init__(f"{report.kind}: {len(bad)} BN layer(s) with problems: {names}{more}")


@dataclass
class Report:
    """Result of a run-time check. ``kind`` names the producer ("probe", "inspect", ...)."""

    kind: str
    layers: list[LayerResult] = field(default_factory=list)
    ok_verdicts: frozenset[str] = DEFAULT_OK_VERDICTS
    summary: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def problems(self) -> list[LayerResult]:
        return [r for r in self.layers if r.verdict not in self.ok_verdicts]

    @property
    def ok(self) -> bool:
        return not self.problems

    def __iter__(self):
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, name_or_index):
        if isinstance(name_or_index, int):
            return self.layers[name_or_index]
        for r in self.layers:
            if r.name == name_or_index:
                return r
        raise KeyError(name_or_index)

    def verdicts(self) -> dict[str, str]:
        """``{layer name: verdict}`` — handy in tests and scripts."""
        return {r.name: r.verdict for r in self.layers}

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ok": self.ok,
            "kind": self.kind,
            "summary": self.summary or self.default_summary(),
            "layers": [r.to_dict() for r in self.layers],
        }
        for k, v in self.meta.items():
            if k not in d:
                d[k] = _jsonable(v)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    def default_summary(self) -> str:
        n, bad = len(self.layers), self.problems
        if not bad:
            return f"{n} BN layer(s) checked: all ok"
        counts: dict[str, int] = {}
        for r in bad:
            counts[r.verdict] = counts.get(r.verdict, 0) + 1
        parts = ", ".join(f"{c} {v}" for v, c in sorted(counts.items(), key=lambda kv: -kv[1]))
        return f"{len(bad)} of {n} BN layer(s) have problems: {parts}"

    def __str__(self) -> str:
        rows = [(r.name, r.verdict, r.detail) for r in self.layers]
        head = ("layer", "verdict", "detail")
        w0 = max([len(head[0])] + [len(r[0]) for r in rows])
        w1 = max([len(head[1])] + [len(r[1]) for r in rows])
        lines = [self.summary or self.default_summary(), ""]
        lines.append(f"{head[0]:<{w0}}  {head[1]:<{w1}}  {head[2]}")
        lines.append(f"{'-' * w0}  {'-' * w1}  {'-' * 6}")
        for name, verdict, detail in rows:
            lines.append(f"{name:<{w0}}  {verdict:<{w1}}  {detail}")
        return "\n".join(lines)

    def raise_if_problems(self) -> "Report":
        if not self.ok:
            raise BNProblem(self)
        return self

    @classmethod
    def from_results(cls, kind: str, results: Iterable[LayerResult], **kw) -> "Report":
        return cls(kind=kind, layers=list(results), **kw)


def _jsonable(v: Any) -> Any:
    """Best-effort conversion of numpy/torch scalars and arrays to JSON-able values."""
    if v is None or isinstance(v, (bool, int, float, str)):
        if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
            return repr(v)
        return v
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(x) for x in v]
    tolist = getattr(v, "tolist", None)
    if callable(tolist):
        return _jsonable(tolist())
    item = getattr(v, "item", None)
    if callable(item):
        try:
            return _jsonable(item())
        except Exception:
            pass
    return str(v)
