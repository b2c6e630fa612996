"""`BNGuardCallback`: a free BN check on the first training batch of ``fit``.

It reads the moving statistics of every BN layer before the first training batch and compares
them right before the second one (or at the end of the epoch when there is only one batch), so
nothing runs inside the hot loop: no batch-end hook (which would force Keras to pull the logs
to Python after every batch and disable its asynchronous callback dispatch), only a
``on_train_batch_begin`` that returns at once after the check. Verdicts per layer:

* ``updated``: the statistics moved;
* ``frozen-no-update``: a trainable BN layer whose statistics did not move during the first batch
  (a custom ``train_step`` calling the model with ``training=False``, updates dropped);
* ``frozen-expected``: ``trainable=False`` (Keras' documented fine-tuning freeze) or listed in
  ``expect_frozen``;
* ``suspicious-momentum``: moved, but ``momentum < 0.5`` (PyTorch's convention written in Keras:
  the moving statistics follow the last batch);
* ``nonfinite``: NaN/Inf in the statistics;
* ``contaminated``: the statistics moved during validation (``test_step`` with ``training=True``).

``on_problem``: ``"warn"`` (a `BNGuardWarning`), ``"raise"`` (`bnguard.BNProblem`) or ``"stop"``
(``model.stop_training = True`` after a warning). The last report is on ``callback.report``.
Subclasses can extend `on_first_batch_report` / `on_validation_report`.

Monitoring: with ``logdir=`` (and/or ``every=``) the callback also records every BN layer's
statistics every ``every`` training batches to the crash-safe log that ``bnguard report`` reads,
and raises monitoring alerts (``frozen``, ``contaminated``, ``nonfinite``; see
`bnguard.keras.monitor.KerasStatsRecorder`) through ``on_alert`` (default: follows ``on_problem``).
Batches are counted in ``on_train_batch_begin`` (batch k has ended when batch k+1 begins) so the
callback still defines no batch-end hook. Custom loops call ``on_train_batch_begin`` and
``on_train_end`` (e.g. through ``keras.callbacks.CallbackList``).
"""
from __future__ import annotations

import warnings
from typing import Iterable, Optional

import keras
import numpy as np

from bnguard.keras.layers import bn_layers, layer_name, read_stats
from bnguard.keras.monitor import KerasStatsRecorder
from bnguard.monitoring import OnAlert
from bnguard.probe_report import PROBE_OK_VERDICTS, ProbeReport, SUSPICIOUS_FRACTION
from bnguard.result import LayerResult

__all__ = ["BNGuardCallback", "BNGuardWarning"]

ON_PROBLEM = ("warn", "raise", "stop")


class BNGuardWarning(UserWarning):
    """A BN layer's statistics misbehave during fit."""


class BNGuardCallback(keras.callbacks.Callback):
    """Check BN statistics on the first training batch (and across validation) of ``fit``."""

    def __init__(self, on_problem: str = "warn", *, expect_frozen: Iterable[str] = (),
                 check_validation: bool = True, logdir: Optional[str] = None, every: Optional[int] = None,
                 on_alert: Optional[OnAlert] = None):
        super().__init__()
        if on_problem not in ON_PROBLEM:
            raise ValueError(f"on_problem must be one of {', '.join(ON_PROBLEM)}, got {on_problem!r}")
        self.recorder: Optional[KerasStatsRecorder] = None
        if logdir is not None or every is not None:
            if on_alert is None:
                on_alert = self._stop_on_alert if on_problem == "stop" else on_problem
            self.recorder = KerasStatsRecorder(logdir=logdir, every=every or 100, on_alert=on_alert,
                                               ignore=expect_frozen)
        self._batch_pending = False
        self.on_problem = on_problem
        self.expect_frozen = tuple(expect_frozen)
        self.check_validation = check_validation
        self.report: ProbeReport | None = None
        self._layers: list = []
        self._before: list | None = None
        self._first_done = False
        self._batches_begun = 0
        self._val_before: list | None = None

    # --- fit hooks -------------------------------------------------------------------------
    @property
    def alerts(self):
        """Monitoring alerts so far (empty unless ``logdir``/``every`` was given)."""
        return self.recorder.alerts if self.recorder is not None else []

    def on_train_begin(self, logs=None):
        self._layers = bn_layers(self.model)
        self._first_done, self._batches_begun = False, 0
        if self.recorder is not None and not self.recorder.layers:
            self.recorder.attach(self.model)

    def on_train_end(self, logs=None):
        self._flush_batch()
        if self.recorder is not None:
            self.recorder.flush()

    def close(self) -> None:
        """Close the monitoring log (also safe to leave to interpreter exit)."""
        if self.recorder is not None:
            self.recorder.close()

    def _flush_batch(self) -> None:
        if self._batch_pending:
            self._batch_pending = False
            self.recorder.train_batch_end()

    def _stop_on_alert(self, alert) -> None:
        warnings.warn(f"bnguard: step {alert.step}: {alert.message}", BNGuardWarning, stacklevel=2)
        if self.model is not None:
            self.model.stop_training = True

    def on_train_batch_begin(self, batch, logs=None):
        if self.recorder is not None:
            self._flush_batch()
            self._batch_pending = True
        if self._first_done:
            return
        self._batches_begun += 1
        if self._batches_begun == 1:
            self._before = [read_stats(layer) for layer in self._layers]
        else:
            self._finish_first_batch()

    def on_epoch_end(self, epoch, logs=None):
        if not self._first_done and self._before is not None:
            self._finish_first_batch()

    def on_test_begin(self, logs=None):
        if self.recorder is not None:
            self._flush_batch()
            self.recorder.eval_begin()
        if self.check_validation and self._layers:
            self._val_before = [read_stats(layer) for layer in self._layers]

    def on_test_end(self, logs=None):
        if self.recorder is not None:
            self.recorder.eval_end("evaluation")
        if self._val_before is None:
            return
        results = []
        for layer, old in zip(self._layers, self._val_before):
            moved = not _same(old, read_stats(layer))
            results.append(LayerResult(layer_name(layer), "contaminated" if moved else "updated",
                                       "moving statistics changed during validation: the model ran "
                                       "in training mode on evaluation data" if moved
                                       else "unchanged during validation"))
        self._val_before = None
        report = ProbeReport(kind="fit-validation", layers=results, ok_verdicts=PROBE_OK_VERDICTS,
                             meta={"framework": "keras"})
        self.on_validation_report(report)

    # --- extension points --------------------------------------------------------------------
    def on_first_batch_report(self, report: ProbeReport) -> None:
        """Called once with the first-batch report; by default acts per ``on_problem``."""
        self._act(report)

    def on_validation_report(self, report: ProbeReport) -> None:
        """Called after each validation run; by default acts per ``on_problem``."""
        self._act(report)

    # --- internals ---------------------------------------------------------------------------
    def _finish_first_batch(self) -> None:
        self._first_done = True
        results = [self._judge(layer, old) for layer, old in zip(self._layers, self._before)]
        self._before = None
        self.report = ProbeReport(kind="fit-first-batch", layers=results,
                                  ok_verdicts=PROBE_OK_VERDICTS, meta={"framework": "keras"})
        self.on_first_batch_report(self.report)

    def _judge(self, layer, old) -> LayerResult:
        name = layer_name(layer)
        new = read_stats(layer)
        momentum = float(getattr(layer, "momentum", 0.99))
        data = {"momentum": momentum, "trainable": bool(layer.trainable)}
        if not all(np.isfinite(a).all() for a in new):
            return LayerResult(name, "nonfinite", "NaN or Inf in the moving statistics after the "
                               "first batch", data)
        moved = not _same(old, new)
        declared = name in self.expect_frozen or layer.name in self.expect_frozen
        if declared or not layer.trainable:
            reason = "expect_frozen" if declared else "trainable=False: inference mode by design"
            if moved:
                return LayerResult(name, "updated-despite-freeze", f"declared frozen ({reason}) "
                                   "but the statistics moved", data)
            return LayerResult(name, "frozen-expected", f"frozen as declared ({reason})", data)
        if not moved:
            return LayerResult(name, "frozen-no-update", "trainable BN layer whose moving statistics "
                               "did not change during the first training batch: the training step "
                               "calls it with training=False or drops its updates", data)
        if 1.0 - momentum > SUSPICIOUS_FRACTION:
            return LayerResult(name, "suspicious-momentum", f"momentum={momentum} in Keras means "
                               f"{1 - momentum:.2f} of each batch enters the moving statistics: "
                               "PyTorch's convention (use 1 - that value, e.g. 0.9/0.99)", data)
        return LayerResult(name, "updated", "moving statistics updated by the first batch", data)

    def _act(self, report: ProbeReport) -> None:
        if report.ok:
            return
        if self.on_problem == "raise":
            report.raise_if_problems()
        warnings.warn(f"bnguard: {report.default_summary()}\n{report}", BNGuardWarning, stacklevel=2)
        if self.on_problem == "stop" and self.model is not None:
            self.model.stop_training = True


def _same(a, b) -> bool:
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))
