"""Exact re-estimation of Flax linen ``nn.BatchNorm`` statistics over data.

``recalibrate(apply_fn, variables, batches)`` returns a new ``batch_stats`` tree whose ``mean`` /
``var`` are the exact mean and (biased, the Flax convention) variance of all the inputs each
BatchNorm layer sees, with only the BatchNorm layers normalising by batch statistics.

How: ``apply_fn(variables, x)`` is your inference call (e.g. ``lambda v, x: model.apply(v, x,
train=False)``: Dropout deterministic). It runs inside ``flax.linen.intercept_methods``; every
``nn.BatchNorm.__call__`` is replaced by a batch-statistics normalisation (what BN does in
training, with the layer's own scale/bias/epsilon) that also reports the batch's exact moments
through ``jax.debug.callback`` (so a jitted call works as long as it is traced inside this
function): the float32 mean, the mean of the residuals ``x - mean`` (restoring the digits float32
loses for inputs far from zero) and their mean square. They are merged per channel in float64
(Chan et al.). The inputs are not mutated: ``variables`` stays as it was whatever happens.

Verdicts as in `bnguard._recalibration`.
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

__all__ = ["recalibrate"]


def _canonical_axes(ndim: int, axis) -> tuple[int, ...]:
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


def _batch_norm_with_moments(module, x, record):
    """nn.BatchNorm's training-mode output, plus a callback with the batch's exact moments."""
    import jax
    import jax.numpy as jnp

    feature_axes = _canonical_axes(x.ndim, module.axis)
    reduction_axes = tuple(i for i in range(x.ndim) if i not in feature_axes)
    feature_shape = [x.shape[a] if a in feature_axes else 1 for a in range(x.ndim)]
    x32 = jnp.asarray(x, jnp.float32)
    n = int(np.prod([x.shape[a] for a in reduction_axes]))
    mean32 = x32.mean(axis=reduction_axes, keepdims=True)
    residual = x32 - mean32
    r_mean = residual.mean(axis=reduction_axes, keepdims=True)
    r_sq = jnp.square(residual).mean(axis=reduction_axes, keepdims=True)
    path = tuple(module.scope.path)
    jax.debug.callback(lambda m, rm, rs: record(path, n, m, rm, rs),
                       mean32.reshape(-1), r_mean.reshape(-1), r_sq.reshape(-1), ordered=True)
    var = jnp.maximum(r_sq - jnp.square(r_mean), 0.0)
    y = (residual - r_mean) * jax.lax.rsqrt(var + module.epsilon)
    if module.use_scale:
        y = y * jnp.reshape(module.get_variable("params", "scale"), feature_shape)
    if module.use_bias:
        y = y + jnp.reshape(module.get_variable("params", "bias"), feature_shape)
    return jnp.asarray(y, module.dtype or jnp.result_type(x, y))


def recalibrate(
    apply_fn: Callable[[Any, Any], Any],
    variables,
    batches: Iterable,
    *,
    num_batches: int | None = None,
    estimator: str = "population",
    progress: bool = True,
    return_report: bool = False,
):
    """New ``batch_stats`` for ``variables`` from ``batches`` (see the module docstring).

    ``batches``: arrays, or tuples/lists whose first element is the input. ``num_batches``: use
    at most this many. ``estimator``: ``"population"`` or ``"batch-average"``.
    ``return_report=True`` returns ``(batch_stats, RecalibrationReport)``.
    """
    import flax.linen as nn
    import jax

    if estimator not in ESTIMATORS:
        raise ValueError(f"recalibrate: estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if num_batches is not None and (not isinstance(num_batches, int) or num_batches < 1):
        raise ValueError(f"recalibrate: num_batches must be a positive int, got {num_batches!r}")
    try:
        old_stats = variables["batch_stats"]
    except (KeyError, TypeError):
        raise ValueError("recalibrate: variables has no 'batch_stats' collection (no BatchNorm "
                         "layer with running statistics)") from None
    moments: dict[tuple, Moments] = {}

    def record(path, n, mean32, r_mean, r_sq):
        mean32, r_mean, r_sq = (np.asarray(a, np.float64) for a in (mean32, r_mean, r_sq))
        acc = moments.setdefault(path, Moments(estimator))
        acc.add(n, mean32 + r_mean, n * np.maximum(r_sq - r_mean * r_mean, 0.0))

    def interceptor(next_fun, args, kwargs, context):
        if isinstance(context.module, nn.BatchNorm) and context.method_name == "__call__":
            if kwargs.get("mask") is not None:
                raise ValueError("recalibrate: masked BatchNorm is not supported")
            return _batch_norm_with_moments(context.module, args[0], record)
        return next_fun(*args, **kwargs)

    started = time.process_time(), time.perf_counter()
    seen = 0
    bar = _progress_bar(num_batches) if progress else None
    # A fresh jitted closure, traced under the interceptor. JAX's trace caches do not know about
    # interceptors, so they are cleared before (a jitted apply_fn traced earlier would skip the
    # interceptor) and after (a later call of the user's jitted function must not reuse a trace
    # that contains it).
    jax.clear_caches()
    run = jax.jit(lambda v, x: apply_fn(v, x))
    try:
        with nn.intercept_methods(interceptor):
            for batch in batches:
                if num_batches is not None and seen >= num_batches:
                    break
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                jax.block_until_ready(run(variables, x))
                jax.effects_barrier()
                seen += 1
                if seen == 1 and not moments:
                    raise ValueError("recalibrate: apply_fn ran no flax.linen.BatchNorm call that "
                                     "could be intercepted")
                if bar is not None:
                    bar.update(1)
    finally:
        jax.clear_caches()
        if bar is not None:
            bar.close()
    if seen == 0:
        raise ValueError("recalibrate: batches yielded no batches")
    new_stats, results = _new_batch_stats(old_stats, moments, variables)
    written = sum(r.verdict == "recalibrated" for r in results)
    if not return_report:
        return new_stats
    report = RecalibrationReport(
        kind="recalibrate", layers=results, ok_verdicts=RECALIBRATE_OK_VERDICTS,
        summary=(f"recalibrated {written} of {len(results)} BN layer(s) from {seen} batch(es) "
                 f"({estimator} estimator)"),
        meta={"estimator": estimator, "batches": seen, "framework": "flax",
              "cpu_seconds": time.process_time() - started[0],
              "wall_seconds": time.perf_counter() - started[1]})
    return new_stats, report


def _progress_bar(total):
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc="bnguard recalibrate", unit="batch", delay=2.0, leave=False)


def _bn_paths(tree, prefix=()):
    """Paths of every {mean, var} node in a batch_stats tree."""
    if hasattr(tree, "items"):
        keys = set(tree.keys())
        if {"mean", "var"} <= keys:
            yield prefix
        for k, v in tree.items():
            if hasattr(v, "items"):
                yield from _bn_paths(v, prefix + (k,))


def _get(tree, path):
    for k in path:
        tree = tree[k]
    return tree


def _new_batch_stats(old_stats, moments, variables):
    """A copy of ``old_stats`` with recalibrated layers replaced; results in tree order."""
    import jax
    import jax.numpy as jnp

    new = jax.tree_util.tree_map(lambda a: a, _to_dict(old_stats))
    results = []
    for path in _bn_paths(new):
        name = "/".join(path)
        node = _get(new, path)
        old_mean, old_var = np.asarray(node["mean"], np.float64), np.asarray(node["var"], np.float64)
        acc = moments.get(path)
        if acc is None:
            results.append(not_reached(name, old_mean.size))
            continue
        mean, var = acc.mean_var()
        if not (np.isfinite(mean).all() and np.isfinite(var).all()):
            results.append(non_finite(name, old_mean.size))
            continue
        eps = _epsilon_hint(variables)
        results.append(change_result(name, eps, acc.batches, acc.count, old_mean.reshape(-1),
                                     old_var.reshape(-1), mean, var))
        node["mean"] = jnp.asarray(mean.reshape(np.shape(node["mean"])), jnp.asarray(node["mean"]).dtype)
        node["var"] = jnp.asarray(var.reshape(np.shape(node["var"])), jnp.asarray(node["var"]).dtype)
    if isinstance(old_stats, dict):
        return new, results
    from flax.core import freeze

    return freeze(new), results


def _epsilon_hint(variables) -> float:
    # Only used to keep the "old/new variance" ratio finite in the report.
    return 1e-5


def _to_dict(tree):
    if hasattr(tree, "unfreeze"):
        return tree.unfreeze()
    if hasattr(tree, "items"):
        return {k: _to_dict(v) for k, v in tree.items()}
    return tree
