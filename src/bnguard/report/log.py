"""The monitoring log: append-only JSON lines that survive a crash.

Each record is one line written with a single ``os.write`` on a file opened with ``O_APPEND``, so a
process killed mid-run leaves at most one partial last line; `read_log` skips it. Records:

- ``{"type": "meta", "framework": ..., "layers": [...], "every": N, "time": ...}``
- ``{"type": "stats", "step": N, "layer": name, "mean_norm", "var_mean", "mean_delta", "var_delta",
  "updates", "finite", "training", "calls"}`` — one per BN layer per record
- ``{"type": "alert", "step": N, "layer": name, "kind": ..., "message": ...}``
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

LOG_NAME = "bnguard-stats.jsonl"


def _clean(v: Any) -> Any:
    # JSON has no NaN/Inf: write them as strings so the file stays valid JSON lines.
    if isinstance(v, float) and not math.isfinite(v):
        return repr(v)
    return v


class StatsLog:
    """Crash-safe append-only writer. ``fsync_every`` bounds what a power loss can take."""

    def __init__(self, logdir: str, *, fsync_every: int = 50, filename: str = LOG_NAME):
        os.makedirs(logdir, exist_ok=True)
        self.path = os.path.join(logdir, filename)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._since_sync = 0
        self._fsync_every = fsync_every

    def write(self, record: dict) -> None:
        if self._fd is None:
            return
        line = json.dumps({k: _clean(v) for k, v in record.items()}, separators=(",", ":")) + "\n"
        os.write(self._fd, line.encode("utf-8"))  # one write per record: never interleaved halves
        self._since_sync += 1
        if self._since_sync >= self._fsync_every:
            self.flush()

    def write_many(self, records: Iterable[dict]) -> None:
        if self._fd is None:
            return
        data = "".join(json.dumps({k: _clean(v) for k, v in r.items()}, separators=(",", ":")) + "\n" for r in records)
        if data:
            os.write(self._fd, data.encode("utf-8"))
            self._since_sync += 1
            if self._since_sync >= self._fsync_every:
                self.flush()

    def flush(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            self._since_sync = 0

    def close(self) -> None:
        if self._fd is not None:
            self.flush()
            os.close(self._fd)
            self._fd = None


@dataclass
class RunLog:
    """What `read_log` recovers from a log directory."""

    path: str
    meta: dict = field(default_factory=dict)
    stats: list[dict] = field(default_factory=list)
    alerts: list[dict] = field(default_factory=list)
    skipped_lines: int = 0

    def layers(self) -> list[str]:
        order: list[str] = list(self.meta.get("layers") or [])
        seen = set(order)
        for r in self.stats:
            if r["layer"] not in seen:
                seen.add(r["layer"])
                order.append(r["layer"])
        return order

    def series(self, layer: str, key: str) -> tuple[list[int], list[Optional[float]]]:
        xs, ys = [], []
        for r in self.stats:
            if r.get("layer") == layer:
                xs.append(r.get("step", 0))
                v = r.get(key)
                ys.append(float(v) if isinstance(v, (int, float, str)) and _is_num(v) else None)
        return xs, ys

    @property
    def last_step(self) -> int:
        return max([r.get("step", 0) for r in self.stats + self.alerts] or [0])


def _is_num(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def read_log(logdir_or_file: str) -> RunLog:
    """Read a log, tolerating a truncated last line (a run killed mid-write) and stray garbage."""
    path = logdir_or_file
    if os.path.isdir(path):
        path = os.path.join(path, LOG_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no bnguard log at {path}")
    log = RunLog(path=path)
    with open(path, "rb") as fh:
        for raw in fh:
            try:
                rec = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                log.skipped_lines += 1
                continue
            if not isinstance(rec, dict):
                log.skipped_lines += 1
                continue
            kind = rec.get("type")
            if kind == "meta":
                log.meta.update(rec)
            elif kind == "stats" and "layer" in rec:
                log.stats.append(rec)
            elif kind == "alert":
                log.alerts.append(rec)
    return log


def now() -> float:
    return time.time()
