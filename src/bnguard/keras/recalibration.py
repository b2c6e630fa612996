"""Exact re-estimation of Keras 3 BatchNormalization moving statistics over data.

``recalibrate(model, dataset)`` sets every ``BatchNormalization`` layer's ``moving_mean`` /
``moving_variance`` to the exact mean and (biased, the Keras convention) variance of all the
inputs that layer sees, with only the BN layers normalising by batch statistics.

How: the model is called eagerly with ``training=False`` (Dropout and every other layer in
inference mode). Each BN layer's ``call`` is temporarily replaced by one that normalises with the
batch statistics (what BN does in training) and records the batch's exact moments: the float32
mean, the mean of the residuals ``x - mean`` (restoring the digits float32 loses for inputs far
from zero) and the residuals' mean square; they are merged per channel in float64 (Chan et al.).
Layers frozen with ``trainable=False`` are recalibrated too (their weights are not touched).
Nothing is assigned until every batch went through; on any exception (including
``KeyboardInterrupt``) the layers and their variables are exactly as before.

Works on the TensorFlow, JAX and torch backends (anything whose tensors ``keras.ops`` converts
to numpy eagerly). Verdicts as in `bnguard._recalibration`.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable

import numpy as np

from bnguard._recalibration import (
    ESTIMATORS,
    RECALIBRATE_OK_VERDICTS,
    Moments,
    RecalibrationReport,
    change_result,
    non_finite,
    not_reached,
)
from bnguard.keras.layers import bn_layers, layer_name, read_stats

__all__ = ["recalibrate", "default_forward"]


def default_forward(model, batch: Any):
    """``model(x, training=False)``; a tuple/list batch ``(x, y[, w])`` feeds its first element,
    a dict is passed as is (models with named inputs)."""
    if isinstance(batch, (tuple, list)):
        batch = batch[0]
    return model(batch, training=False)


def recalibrate(
    model,
    dataset: Iterable,
    *,
    num_batches: int | None = None,
    forward: Callable[[Any, Any], Any] | None = None,
    estimator: str = "population",
    progress: bool = True,
) -> RecalibrationReport:
    """Re-estimate every Keras 3 BatchNormalization layer's moving statistics from ``dataset``.

    ``dataset``: a ``tf.data.Dataset``, a list of arrays, a generator... of batches.
    ``num_batches``: use at most this many. ``forward(model, batch)``: how to call the model
    (default `default_forward`; call it with ``training=False`` so Dropout stays off).
    ``estimator``: ``"population"`` or ``"batch-average"`` (equal-weight average of batch stats).
    """
    import keras

    if estimator not in ESTIMATORS:
        raise ValueError(f"recalibrate: estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if num_batches is not None and (not isinstance(num_batches, int) or num_batches < 1):
        raise ValueError(f"recalibrate: num_batches must be a positive int, got {num_batches!r}")
    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"recalibrate: model must be a Keras 3 model, got {type(model).__name__}")
    layers = [layer for layer in bn_layers(model)
              if isinstance(layer, keras.layers.BatchNormalization)]
    if not layers:
        raise ValueError("recalibrate: the model has no Keras BatchNormalization layer")
    forward = forward or default_forward
    moments = [Moments(estimator) for _ in layers]
    old = [read_stats(layer) for layer in layers]
    started = time.process_time(), time.perf_counter()
    for layer, acc in zip(layers, moments):
        layer.call = _recording_call(layer, acc)
    try:
        seen = _feed(model, dataset, forward, num_batches, progress)
    finally:
        for layer in layers:
            layer.__dict__.pop("call", None)
    if seen == 0:
        raise ValueError("recalibrate: dataset yielded no batches")
    results = _assign(layers, moments, old)
    written = sum(r.verdict == "recalibrated" for r in results)
    return RecalibrationReport(
        kind="recalibrate",
        layers=results,
        ok_verdicts=RECALIBRATE_OK_VERDICTS,
        summary=(f"recalibrated {written} of {len(layers)} BN layer(s) from {seen} batch(es) "
                 f"({estimator} estimator)"),
        meta={"estimator": estimator, "batches": seen, "framework": "keras",
              "backend": keras.backend.backend(),
              "cpu_seconds": time.process_time() - started[0],
              "wall_seconds": time.perf_counter() - started[1]},
    )


def _recording_call(layer, acc: Moments):
    """A replacement for ``layer.call``: batch-statistics normalisation + exact moments."""
    from keras import ops

    def call(inputs, training=None, mask=None):
        if mask is not None:
            raise ValueError(f"recalibrate: masked BatchNormalization ({layer_name(layer)}) is "
                             "not supported")
        x = ops.cast(inputs, "float32")
        ndim = len(x.shape)
        axis = layer.axis % ndim
        axes = [i for i in range(ndim) if i != axis]
        n = int(np.prod([x.shape[i] for i in axes]))
        mean32 = ops.mean(x, axis=axes)
        shape = [1] * ndim
        shape[axis] = -1
        residual = x - ops.reshape(mean32, shape)
        r_mean = ops.mean(residual, axis=axes)
        r_sq = ops.mean(ops.square(residual), axis=axes)
        m32, rm, rs = (np.asarray(ops.convert_to_numpy(t), np.float64) for t in (mean32, r_mean, r_sq))
        acc.add(n, m32 + rm, n * np.maximum(rs - rm * rm, 0.0))
        variance = ops.maximum(r_sq - ops.square(r_mean), 0.0)
        outputs = ops.batch_normalization(
            x, mean32 + r_mean, variance, axis=axis,
            offset=ops.cast(layer.beta, "float32") if layer.center else None,
            scale=ops.cast(layer.gamma, "float32") if layer.scale else None,
            epsilon=layer.epsilon)
        return ops.cast(outputs, layer.compute_dtype)

    return call


def _feed(model, dataset, forward, num_batches, progress) -> int:
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(desc="bnguard recalibrate", unit="batch", delay=2.0, leave=False,
                       total=num_batches)
        except ImportError:
            bar = None
    seen = 0
    try:
        for batch in dataset:
            if num_batches is not None and seen >= num_batches:
                break
            forward(model, batch)
            seen += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return seen


def _assign(layers, moments, old):
    """Compute every new value first, then assign (nothing half-written if a value is bad)."""
    plan, results = [], []
    for layer, acc, (old_mean, old_var) in zip(layers, moments, old):
        name, channels = layer_name(layer), int(old_mean.size)
        if acc.batches == 0:
            results.append(not_reached(name, channels))
            continue
        mean, var = acc.mean_var()
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            results.append(non_finite(name, channels))
            continue
        plan.append((layer, mean, var))
        results.append(change_result(name, layer.epsilon, acc.batches, acc.count, old_mean,
                                     old_var, mean, var))
    for layer, mean, var in plan:
        layer.moving_mean.assign(mean.astype(layer.moving_mean.dtype))
        layer.moving_variance.assign(var.astype(layer.moving_variance.dtype))
    return results
