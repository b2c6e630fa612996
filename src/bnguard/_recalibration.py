"""Framework-free parts of recalibration: the report type, verdict names, a float64 moment
accumulator (numpy) and the per-layer "what changed" summary. Used by the torch, Keras and Flax
recalibrators.

Verdicts (per BN layer):

``recalibrated``      new statistics were written (ok)
``no-running-stats``  the layer keeps no running statistics; nothing to recalibrate (ok)
``not-reached``       no batch reached this layer; its old statistics were kept (problem)
``non-finite``        the layer's inputs contained NaN/inf; its old statistics were kept (problem)
"""
from __future__ import annotations

from bnguard.result import LayerResult, Report

__all__ = ["RecalibrationReport", "RECALIBRATE_OK_VERDICTS", "ESTIMATORS", "Moments",
           "change_result", "not_reached", "non_finite"]

ESTIMATORS = ("population", "batch-average")
RECALIBRATE_OK_VERDICTS = frozenset({"recalibrated", "no-running-stats"})


class RecalibrationReport(Report):
    """`Report` of a recalibration; ``meta`` holds estimator, batches, world size and time."""


class Moments:
    """Per-channel population moments in float64 (numpy), merged with Chan et al.'s formula.

    ``add(n, mean, m2)`` takes one batch's exact moments (``m2`` = sum of squared deviations
    from the batch mean). ``estimator="batch-average"`` instead averages batch means and
    (biased) batch variances with equal weight per batch, as ``torch.optim.swa_utils.update_bn``.
    """

    def __init__(self, estimator: str = "population"):
        self.estimator = estimator
        self.count = 0.0
        self.batches = 0
        self.mean = None
        self.m2 = None
        self._var_sum = None

    def add(self, n: float, mean, m2) -> None:
        import numpy as np

        mean = np.asarray(mean, dtype=np.float64)
        m2 = np.asarray(m2, dtype=np.float64)
        self.batches += 1
        if self.estimator == "batch-average":
            var = m2 / n
            if self.mean is None:
                self.mean, self._var_sum = mean.copy(), var.copy()
            else:
                self.mean = self.mean + mean  # a running sum until mean_var()
                self._var_sum = self._var_sum + var
            self.count += n
            return
        if self.mean is None:
            self.count, self.mean, self.m2 = float(n), mean.copy(), m2.copy()
            return
        total = self.count + n
        delta = mean - self.mean
        self.mean = self.mean + delta * (n / total)
        self.m2 = self.m2 + m2 + delta * delta * (self.count * n / total)
        self.count = total

    def mean_var(self, unbiased: bool = False):
        """(mean, variance) as float64 arrays."""
        if self.estimator == "batch-average":
            return self.mean / self.batches, self._var_sum / self.batches
        denom = self.count - 1.0 if unbiased else self.count
        return self.mean, self.m2 / max(denom, 1.0)


def not_reached(name: str, channels: int) -> LayerResult:
    return LayerResult(name, "not-reached", "no batch reached this layer; its old statistics were "
                       "kept", {"channels": channels})


def non_finite(name: str, channels: int) -> LayerResult:
    return LayerResult(name, "non-finite", "its inputs contained NaN or inf; old statistics were "
                       "kept", {"channels": channels})


def change_result(name, eps, batches, count, old_mean, old_var, mean, var) -> LayerResult:
    """``recalibrated`` with how far the old statistics were from the new ones (numpy arrays)."""
    import numpy as np

    old_mean, old_var = np.asarray(old_mean, np.float64), np.asarray(old_var, np.float64)
    mean, var = np.asarray(mean, np.float64), np.asarray(var, np.float64)
    finite_old = bool(np.isfinite(old_mean).all() and np.isfinite(old_var).all())
    data = {"channels": int(mean.size), "batches": int(batches), "values_per_channel": int(count),
            "old_finite": finite_old, "max_mean_shift_std": None, "old_over_new_var_min": None,
            "old_over_new_var_max": None}
    if finite_old:
        shift = float((np.abs(old_mean - mean) / np.sqrt(var + eps)).max())
        ratio = (old_var + eps) / (var + eps)
        data.update(max_mean_shift_std=shift, old_over_new_var_min=float(ratio.min()),
                    old_over_new_var_max=float(ratio.max()))
        detail = (f"mean moved up to {shift:.3g} std, old/new variance {ratio.min():.3g}.."
                  f"{ratio.max():.3g}; from {batches} batch(es), {int(count)} values per channel")
    else:
        detail = (f"old statistics contained NaN/inf; replaced from {batches} batch(es), "
                  f"{int(count)} values per channel")
    return LayerResult(name, "recalibrated", detail, data)
