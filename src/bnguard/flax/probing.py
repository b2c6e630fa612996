"""Run-time probe for Flax (linen): does the user's training step keep its ``batch_stats``?

``probe(train_step, state, batch)`` runs ``train_step(state, batch)`` once on a copy of ``state``
and compares the ``batch_stats`` of the returned state with the input's, per BN layer. With
``trace=True`` (default) the step runs with ``jax.disable_jit()`` under a Flax method interceptor,
so every ``nn.BatchNorm`` call is seen: whether it ran with ``use_running_average=False`` and a
mutable ``batch_stats`` collection (i.e. the model *did* compute new statistics), and the batch
statistics of its input. Verdicts:

* ``updated``: the returned statistics differ from the input's;
* ``dropped``: the model computed new statistics but the step returned the old ones (the
  ``mutable=['batch_stats']`` updates were never put into the returned state), or the returned
  state has no ``batch_stats`` at all;
* ``frozen``: unchanged, and the layer ran with ``use_running_average=True`` or was not called
  (or ``trace=False``, where the cause cannot be told);
* ``frozen-expected``: unchanged and listed in ``expect_frozen``;
* ``updated-multiple-times``: the layer updated its statistics more than once in one step;
* ``suspicious-momentum``: each update moved the statistics more than half-way to the batch
  statistics (``momentum=0.1`` written in PyTorch's convention);
* ``nonfinite``: NaN/Inf in the returned statistics.

Healthy: ``updated`` and ``frozen-expected``. JAX arrays are immutable and the step gets a copy,
so the caller's ``state`` is untouched even when the step donates its arguments.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterable

import numpy as np

from bnguard.probe_report import (PROBE_OK_VERDICTS, SUSPICIOUS_FRACTION, ProbeReport,
                                  least_squares_fraction)
from bnguard.result import LayerResult

__all__ = ["probe"]

_MISSING = object()


def probe(train_step: Callable[..., Any], state: Any, batch: Any, *, trace: bool = True,
          expect_frozen: Iterable[str] = ()) -> ProbeReport:
    """Run ``train_step(state, batch)`` once and report per BN layer what it did to ``batch_stats``.

    ``state`` is a ``TrainState``-like object with a ``batch_stats`` attribute, or a dict with a
    ``"batch_stats"`` key. The step may return the new state or a tuple whose first state-like
    element is the new state (``(state, metrics)``).
    """
    import jax
    import jax.numpy as jnp

    if not callable(train_step):
        raise TypeError("probe() needs train_step: a callable (state, batch) -> new state")
    stats_in = _batch_stats(state)
    if stats_in is _MISSING or not isinstance(stats_in, dict) and not hasattr(stats_in, "items"):
        raise ValueError("probe() needs a state with batch_stats (a TrainState field or a "
                         "'batch_stats' key); this state has none")
    before = _layers(stats_in)
    if not before:
        raise ValueError("the state's batch_stats contain no BN layer (no 'mean'/'var' entries)")
    expected = tuple(expect_frozen)
    calls: dict[str, list[dict]] = {}
    state_copy = jax.tree_util.tree_map(lambda a: jnp.array(a, copy=True)
                                        if isinstance(a, jax.Array) else a, state)
    with _tracing(trace, calls):
        output = train_step(state_copy, batch)
    new_state = _find_state(output)
    stats_out = _MISSING if new_state is _MISSING else _batch_stats(new_state)
    same_object = stats_out is _batch_stats(state_copy)
    after = {} if stats_out is _MISSING else _layers(stats_out)
    results = [_judge(name, before[name], after.get(name), calls.get(name, []), trace, same_object,
                      any(name == e or name.startswith(e + "/") for e in expected))
               for name in before]
    meta = {"traced": trace, "returned_batch_stats": stats_out is not _MISSING}
    return ProbeReport(kind="probe", layers=results, ok_verdicts=PROBE_OK_VERDICTS,
                       meta={"framework": "flax", **meta}, step_output=output)


def _batch_stats(state: Any) -> Any:
    if isinstance(state, dict) or hasattr(state, "keys") and not hasattr(state, "batch_stats"):
        try:
            return state["batch_stats"] if "batch_stats" in state else _MISSING
        except TypeError:
            return _MISSING
    return getattr(state, "batch_stats", _MISSING)


def _find_state(output: Any) -> Any:
    """The new state in the step's output: itself, or the first state-like item of a tuple."""
    def state_like(x):
        return _batch_stats(x) is not _MISSING or hasattr(x, "params") or (
            isinstance(x, dict) and "params" in x)

    if state_like(output):
        return output
    if isinstance(output, (tuple, list)):
        for item in output:
            if state_like(item):
                return item
    return _MISSING


def _layers(stats: Any, prefix: str = "") -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"Block_0/BatchNorm_0": (mean, var)}`` from a nested batch_stats mapping."""
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if not hasattr(stats, "items"):
        return out
    keys = set(stats.keys())
    if {"mean", "var"} <= keys:
        out[prefix or "batch_stats"] = (np.array(stats["mean"], dtype=np.float64),
                                        np.array(stats["var"], dtype=np.float64))
    for key, value in stats.items():
        if key not in ("mean", "var") and hasattr(value, "items"):
            out.update(_layers(value, f"{prefix}/{key}" if prefix else str(key)))
    return out


@contextlib.contextmanager
def _tracing(enabled: bool, calls: dict):
    """Run eagerly with an interceptor that records every BatchNorm call."""
    if not enabled:
        yield
        return
    import flax.linen as nn
    import jax

    def interceptor(next_fun, args, kwargs, context):
        module = context.module
        if not isinstance(module, nn.BatchNorm) or context.method_name != "__call__":
            return next_fun(*args, **kwargs)
        use_ra = kwargs.get("use_running_average", args[1] if len(args) > 1 else None)
        try:
            use_ra = nn.merge_param("use_running_average", module.use_running_average, use_ra)
        except Exception:
            use_ra = None
        train = use_ra is False and module.is_mutable_collection("batch_stats")
        record = {"use_running_average": use_ra, "train": train,
                  "momentum": float(module.momentum), "batch": None}
        if train and args:
            record["batch"] = _input_stats(args[0], module.axis)
        calls.setdefault("/".join(str(p) for p in module.scope.path), []).append(record)
        return next_fun(*args, **kwargs)

    with jax.disable_jit(), nn.intercept_methods(interceptor):
        yield


def _input_stats(x, axis) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except Exception:  # a tracer (jax.grad): use its primal value
        primal = getattr(x, "primal", None)
        if primal is None:
            return None
        return _input_stats(primal, axis)
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % arr.ndim for a in axes)
    rest = tuple(i for i in range(arr.ndim) if i not in axes)
    moved = np.transpose(arr, axes + rest).reshape(int(np.prod([arr.shape[a] for a in axes])), -1)
    if moved.shape[1] < 2:
        return None
    return moved.mean(axis=1), moved.var(axis=1)  # Flax keeps the biased variance


def _judge(name, old, new, calls, traced, same_object, expected) -> LayerResult:
    train_calls = [c for c in calls if c["train"]]
    data: dict[str, Any] = {"calls": len(calls), "train_calls": len(train_calls)}
    if new is None:
        return LayerResult(name, "dropped", "the step returned no batch_stats for this layer: the "
                           "statistics computed in the step are lost", data)
    if not all(np.isfinite(a).all() for a in new):
        return LayerResult(name, "nonfinite", "NaN or Inf in the returned batch_stats", data)
    changed = not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(old, new))
    if not changed:
        if expected:
            return LayerResult(name, "frozen-expected", "unchanged, as declared (expect_frozen)", data)
        if train_calls:
            how = " (the returned state holds the input's batch_stats object)" if same_object else ""
            return LayerResult(name, "dropped", "the model computed new statistics (called with "
                               "use_running_average=False and mutable batch_stats) but the step "
                               f"returned the old ones{how}: put the mutated 'batch_stats' into the "
                               "new state", data)
        if calls:
            return LayerResult(name, "frozen", f"called {len(calls)} time(s) with "
                               "use_running_average=True (or without mutable batch_stats): "
                               "inference mode during training", data)
        why = "the layer was not called during the step" if traced else "unchanged (trace=False: " \
              "cause not recorded)"
        return LayerResult(name, "frozen", why, data)
    if len(train_calls) > 1:
        return LayerResult(name, "updated-multiple-times", f"updated {len(train_calls)} times in one "
                           "step (a shared module): the effective momentum is compounded", data)
    fraction = None
    if len(train_calls) == 1 and train_calls[0]["batch"] is not None:
        batch = train_calls[0]["batch"]
        fraction = least_squares_fraction(np.concatenate([n - o for n, o in zip(new, old)]),
                                          np.concatenate([b - o for b, o in zip(batch, old)]))
        data["observed_fraction"] = None if fraction is None else round(fraction, 6)
        data["configured_fraction"] = round(1.0 - train_calls[0]["momentum"], 6)
    if fraction is not None and fraction > SUSPICIOUS_FRACTION:
        return LayerResult(name, "suspicious-momentum", f"each update moves the statistics "
                           f"{fraction:.2f} of the way to the batch statistics: momentum written in "
                           "PyTorch's convention (Flax momentum = 1 - PyTorch momentum)", data)
    if expected:
        return LayerResult(name, "updated-despite-freeze", "declared frozen (expect_frozen) but "
                           "the statistics changed", data)
    shown = f"; update fraction {fraction:.3g}" if fraction is not None else ""
    return LayerResult(name, "updated", f"batch_stats updated by the step{shown}", data)
