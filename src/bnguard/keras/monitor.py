"""Recording and alerting on Keras 3 BatchNormalization statistics during training.

`KerasStatsRecorder` is the framework part of monitoring for Keras: it finds the BN layers (nested
models included), reads their moving statistics, writes the crash-safe log and raises alerts:

- ``frozen``: a trainable BN layer whose moving statistics did not change over ``every`` training
  batches (custom loop calling the model with ``training=False``, a ``train_step`` that drops the
  updates). Layers with ``trainable=False`` run in inference mode by Keras design (transfer
  learning) and are not reported;
- ``contaminated``: the statistics changed during evaluation or prediction (a ``test_step`` that
  calls the model with ``training=True``);
- ``nonfinite``: NaN/Inf in the statistics.

`bnguard.keras.BNGuardCallback(logdir=..., every=...)` drives it from ``fit``; custom loops call
the callback's ``on_train_batch_begin``/``on_test_begin``/``on_test_end``/``on_train_end``
themselves (or through a ``keras.callbacks.CallbackList``).
"""
from __future__ import annotations

from typing import Iterable, Optional

import numpy as np

from bnguard.keras.layers import bn_layers, layer_name, read_stats
from bnguard.monitoring import AlertSink, OnAlert
from bnguard.report.log import StatsLog, now


class KerasStatsRecorder:
    def __init__(self, *, logdir: Optional[str] = None, every: int = 100, on_alert: OnAlert = "warn",
                 ignore: Iterable[str] = ()):
        if every < 1:
            raise ValueError("every must be >= 1")
        self.every = every
        self.logdir = logdir
        self.ignore = tuple(ignore)
        self._log = StatsLog(logdir) if logdir else None
        self.sink = AlertSink(on_alert, self._log)
        self.step = 0
        self.layers: list = []
        self._prev: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._eval_snapshot: Optional[dict[str, tuple[np.ndarray, np.ndarray]]] = None
        self._model_name = ""

    @property
    def alerts(self):
        return list(self.sink.alerts)

    def attach(self, model) -> None:
        self.layers = bn_layers(model)
        self._model_name = getattr(model, "name", type(model).__name__)
        self._prev = self._read()
        if self._log is not None:
            self._log.write({"type": "meta", "framework": "keras", "every": self.every, "time": now(),
                             "model": self._model_name, "layers": [layer_name(l) for l in self.layers]})
            self._write_records(self._prev, self._prev, force=True)

    def _read(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        return {layer_name(layer): read_stats(layer) for layer in self.layers}

    def _ignored(self, name: str) -> bool:
        return any(name == i or name.startswith(i + "/") for i in self.ignore)

    def train_batch_end(self) -> None:
        self.step += 1
        if self.step % self.every == 0:
            current = self._read()
            self._write_records(self._prev, current)
            self._prev = current

    def _write_records(self, prev, current, force: bool = False) -> None:
        records = []
        for layer in self.layers:
            name = layer_name(layer)
            mean, var = current[name]
            pmean, pvar = prev[name]
            finite = bool(np.isfinite(mean).all() and np.isfinite(var).all())
            mean_delta = float(np.linalg.norm(mean - pmean)) if finite else float("nan")
            var_delta = float(np.linalg.norm(var - pvar)) if finite else float("nan")
            records.append({"type": "stats", "step": self.step, "layer": name,
                            "mean_norm": float(np.linalg.norm(mean)), "var_mean": float(var.mean()),
                            "mean_delta": mean_delta, "var_delta": var_delta, "updates": None,
                            "finite": finite, "training": bool(layer.trainable), "calls": None})
            if force:
                continue
            if not finite:
                self.sink.emit(self.step, name, "nonfinite", f"BN layer '{name}' has NaN/Inf moving statistics at step {self.step}")
                continue
            self.sink.clear(name, "nonfinite")
            if not layer.trainable or self._ignored(name):
                continue  # trainable=False: inference mode by Keras design
            if mean_delta == 0.0 and var_delta == 0.0:
                self.sink.emit(self.step, name, "frozen",
                               f"BN layer '{name}' moving statistics did not change over the last {self.every} "
                               f"training batch(es) (up to step {self.step}): called with training=False, or its "
                               "updates were dropped")
            else:
                self.sink.clear(name, "frozen")
        if self._log is not None:
            self._log.write_many(records)

    def eval_begin(self) -> None:
        self._eval_snapshot = self._read()

    def eval_end(self, what: str = "evaluation") -> None:
        if self._eval_snapshot is None:
            return
        after = self._read()
        for name, (mean, var) in after.items():
            bmean, bvar = self._eval_snapshot[name]
            if not (np.array_equal(mean, bmean) and np.array_equal(var, bvar)) and not self._ignored(name):
                self.sink.emit(self.step, name, "contaminated",
                               f"BN layer '{name}' moving statistics changed during {what}: the model was called "
                               "with training=True on evaluation data")
        self._eval_snapshot = None

    def flush(self) -> None:
        if self._log is not None:
            self._log.flush()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

