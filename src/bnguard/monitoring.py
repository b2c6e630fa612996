"""Framework-neutral pieces of BN monitoring: alerts and what to do with them.

The framework adapters (`bnguard.torch.Monitor`, `bnguard.keras.BNGuardCallback`,
`bnguard.lightning.BNGuardCallback`) observe the layers; this module decides nothing about
frameworks. An alert is raised once per (layer, kind) until its condition clears, so a layer left
in eval mode for 10,000 steps produces one alert, not 10,000.
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Callable, Optional, Union

ALERT_KINDS = ("frozen", "eval-mode", "contaminated", "nonfinite", "rank-divergence")


class BNAlertWarning(UserWarning):
    """Category of the warnings bnguard's monitors emit (filter it like any warning)."""


@dataclass(frozen=True)
class Alert:
    step: int
    layer: str
    kind: str  # one of ALERT_KINDS
    message: str

    def to_record(self) -> dict:
        return {"type": "alert", **asdict(self)}


class BNAlertError(RuntimeError):
    """Raised by a monitor with ``on_alert="raise"``; ``.alert`` is the alert."""

    def __init__(self, alert: Alert):
        self.alert = alert
        super().__init__(alert.message)


OnAlert = Union[str, Callable[[Alert], None]]


class AlertSink:
    """Collects alerts, de-duplicates them per (layer, kind), logs them and applies the policy."""

    def __init__(self, on_alert: OnAlert = "warn", log=None):
        if not callable(on_alert) and on_alert not in ("warn", "raise", "record"):
            raise ValueError(f"on_alert must be 'warn', 'raise', 'record' or a callable, not {on_alert!r}")
        self.on_alert = on_alert
        self.log = log
        self.alerts: list[Alert] = []
        self._active: set[tuple[str, str]] = set()

    def clear(self, layer: str, kind: str) -> None:
        """The condition is gone: the next occurrence alerts again."""
        self._active.discard((layer, kind))

    def emit(self, step: int, layer: str, kind: str, message: str) -> Optional[Alert]:
        key = (layer, kind)
        if key in self._active:
            return None
        self._active.add(key)
        alert = Alert(step=step, layer=layer, kind=kind, message=message)
        self.alerts.append(alert)
        if self.log is not None:
            self.log.write(alert.to_record())
        if callable(self.on_alert):
            self.on_alert(alert)
        elif self.on_alert == "warn":
            warnings.warn(f"bnguard: step {step}: {message}", BNAlertWarning, stacklevel=3)
        elif self.on_alert == "raise":
            if self.log is not None:
                self.log.flush()
            raise BNAlertError(alert)
        return alert
