"""Framework-free part of the run-time probes: what was observed per BN layer, and the verdict.

The PyTorch and Keras probes both fill one `LayerObservation` per BN layer while the user's own
training step runs, then `verdict_for` turns it into a `LayerResult`. Keeping the decision here
means both frameworks name and rank the same facts the same way.

The *update fraction* is framework-neutral: it is the share of the batch statistic that entered the
running statistic in one update, ``(new - old) / (batch - old)``. PyTorch calls it ``momentum``
(default 0.1); Keras, TF and Flax call ``1 - fraction`` momentum (default 0.99, fraction 0.01).
A fraction above one half means the running statistic mostly follows the last batch: the momentum
was written in the other framework's convention (``momentum=0.99`` in PyTorch, ``momentum=0.1`` in
Keras).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bnguard.result import LayerResult, Report

__all__ = [
    "PROBE_OK_VERDICTS",
    "SUSPICIOUS_FRACTION",
    "LayerObservation",
    "ProbeReport",
    "least_squares_fraction",
    "verdict_for",
]

# Healthy outcomes: the layer learned from the batch once, or it is frozen and the user said so.
PROBE_OK_VERDICTS = frozenset({"updated", "frozen-expected"})

# An update fraction above this means the running stats mostly track the last batch.
SUSPICIOUS_FRACTION = 0.5


@dataclass
class LayerObservation:
    """What one training step (and optionally one evaluation step) did to one BN layer."""

    name: str
    calls: int = 0
    train_calls: int = 0  # calls in which the layer was in training mode (would update stats)
    updating_calls: int = 0  # calls after which the running statistics had changed
    changed: bool = False  # running statistics differ after the step
    nonfinite: bool = False  # NaN/Inf in the running statistics after the step
    fractions: list[float] = field(default_factory=list)  # per-update observed fraction
    configured_fraction: float | None = None  # from the layer's own momentum setting
    cumulative: bool = False  # PyTorch momentum=None: running average with factor 1/n
    expected_frozen: bool = False
    expected_reason: str = ""
    calls_observed: bool = True  # False: the step ran compiled, only before/after is known
    eval_changed: bool | None = None  # None: no eval step was run
    eval_train_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """The median observed fraction over the updates of this step (None if not measurable)."""
        vals = sorted(f for f in self.fractions if f == f)
        return vals[len(vals) // 2] if vals else None


def least_squares_fraction(delta, target) -> float | None:
    """Best ``f`` with ``delta ~= f * target`` over all channels (numpy arrays, float64).

    ``delta`` is ``new - old`` and ``target`` is ``batch - old``. Channels where the batch statistic
    equals the old value carry no information and weigh nothing. Returns None when nothing is
    measurable (all targets ~0).
    """
    import numpy as np

    delta = np.asarray(delta, dtype=np.float64).ravel()
    target = np.asarray(target, dtype=np.float64).ravel()
    keep = np.isfinite(delta) & np.isfinite(target)
    delta, target = delta[keep], target[keep]
    denom = float(np.dot(target, target))
    scale = float(np.abs(target).max()) if target.size else 0.0
    if denom <= 0.0 or scale < 1e-6:
        return None
    return float(np.dot(delta, target) / denom)


def verdict_for(obs: LayerObservation) -> LayerResult:
    """Rank the observed facts into exactly one verdict (the most serious one wins)."""
    data: dict[str, Any] = {
        "calls": obs.calls,
        "train_calls": obs.train_calls,
        "updating_calls": obs.updating_calls,
        "observed_fraction": _round(obs.fraction),
        "configured_fraction": _round(obs.configured_fraction),
    }
    data.update(obs.extra)
    train = _train_verdict(obs)
    if obs.eval_changed:
        data["train_verdict"] = train.verdict
        detail = ("running statistics moved during the evaluation step: evaluation ran this layer "
                  f"in training mode ({obs.eval_train_calls} train-mode call(s)); call model.eval() "
                  "(or training=False) before validating")
        if train.verdict not in PROBE_OK_VERDICTS:
            detail += f"; the training step also found: {train.verdict}"
        return LayerResult(obs.name, "contaminated", detail, data)
    train.data = {**data, **train.data}
    return train


def _train_verdict(obs: LayerObservation) -> LayerResult:
    name, frac = obs.name, obs.fraction
    if obs.nonfinite:
        return LayerResult(name, "nonfinite", "NaN or Inf entered the running statistics during the "
                           "step (non-finite input or activations in this layer)")
    if obs.expected_frozen:
        if obs.changed:
            return LayerResult(name, "updated-despite-freeze",
                               f"declared frozen ({obs.expected_reason}) but its running statistics "
                               "changed during the step")
        return LayerResult(name, "frozen-expected", f"frozen as declared ({obs.expected_reason})")
    if not obs.calls_observed:
        if obs.changed:
            return LayerResult(name, "updated", "running statistics changed during the step (calls "
                               "not observed: the step ran compiled)")
        return LayerResult(name, "frozen-no-update", "running statistics unchanged by the step "
                           "(calls not observed: the step ran compiled, so eval mode, a skipped "
                           "layer and dropped updates cannot be told apart)")
    if obs.calls == 0:
        return LayerResult(name, "frozen-not-called", "the layer was not called during the step, so "
                           "its statistics never update (unused branch, or the step bypasses it); "
                           "pass it in expect_frozen if that is intended")
    if obs.train_calls == 0:
        return LayerResult(name, "frozen-eval-mode", f"called {obs.calls} time(s), always in "
                           "inference mode: the running statistics stay as they are (model.eval() "
                           "or training=False left on during training)")
    if not obs.changed:
        return LayerResult(name, "frozen-no-update", f"called in training mode ({obs.train_calls} "
                           "time(s)) but the running statistics did not change (momentum 0, a custom "
                           "layer that never writes them, or updated values that were discarded)")
    if obs.updating_calls > 1 or obs.train_calls > 1:
        n = max(obs.updating_calls, obs.train_calls)
        return LayerResult(name, "updated-multiple-times", f"updated {n} times in one step (a layer "
                           "shared between calls, or activation checkpointing recomputing the "
                           "forward): the effective momentum is compounded")
    if frac is not None and not obs.cumulative and frac > SUSPICIOUS_FRACTION:
        return LayerResult(name, "suspicious-momentum", f"each update moves the running statistics "
                           f"{frac:.2f} of the way to the batch statistics: the momentum looks written "
                           "in the other framework's convention (PyTorch momentum = 1 - Keras "
                           "momentum)")
    shown = f"update fraction {frac:.3g}" if frac is not None else "update fraction not measurable"
    if obs.cumulative:
        shown += " (cumulative average, momentum=None)"
    return LayerResult(name, "updated", f"updated once in training mode; {shown}")


def _round(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


@dataclass
class ProbeReport(Report):
    """Report of one probed training step. ``step_output`` is what the user's step returned."""

    step_output: Any = None

    @classmethod
    def build(cls, observations: list[LayerObservation], *, framework: str,
              meta: dict[str, Any] | None = None, step_output: Any = None) -> "ProbeReport":
        layers = [verdict_for(o) for o in observations]
        return cls(kind="probe", layers=layers, ok_verdicts=PROBE_OK_VERDICTS,
                   meta={"framework": framework, **(meta or {})}, step_output=step_output)
