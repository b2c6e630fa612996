"""`diff(a, b)`: which BN layers' statistics changed between two checkpoints of the same model.

Typical uses: a live model vs its EMA copy (an EMA whose BN stats never move), before vs after a
fine-tune with a "frozen" backbone (its BN stats should not move — do they?).
"""
from __future__ import annotations

import os

import numpy as np

from bnguard.checkpoint.formats import open_checkpoint, read_errors
from bnguard.checkpoint.inspection import bn_layers
from bnguard.checkpoint.layers import BNLayer
from bnguard.checkpoint.readers.arrays import as_float
from bnguard.result import LayerResult, Report

EXPECTATIONS = {
    "any": frozenset({"changed", "unchanged"}),
    "changed": frozenset({"changed"}),
    "unchanged": frozenset({"unchanged"}),
}


def diff(a: str | os.PathLike, b: str | os.PathLike, expect: str = "any", atol: float = 0.0) -> Report:
    """Compare the BN statistics of two checkpoints layer by layer.

    Verdicts: ``changed``, ``unchanged``, ``only-in-a``, ``only-in-b``, ``shape-changed``. ``expect``
    (``any``/``changed``/``unchanged``) says which of changed/unchanged count as ok; layers present
    in only one file or with another shape are always problems. ``atol``: differences up to this
    are "unchanged".
    """
    a, b = os.fspath(a), os.fspath(b)
    layers_a = bn_layers(open_checkpoint(a))
    layers_b = bn_layers(open_checkpoint(b))
    with read_errors(f"{a} / {b}"):  # tensors are read lazily, here
        results = [_compare(name, la, lb, atol) for name, la, lb in _pair(layers_a, layers_b)]
    counts = {v: sum(r.verdict == v for r in results) for v in ("changed", "unchanged")}
    summary = (f"{counts['changed']} of {len(results)} BN layers changed, {counts['unchanged']} unchanged"
               if results else "no BN layers found in either checkpoint")
    return Report(kind="diff", layers=results, ok_verdicts=EXPECTATIONS[expect], summary=summary,
                  meta={"a": a, "b": b, "expect": expect, "atol": atol})


def _pair(la: list[BNLayer], lb: list[BNLayer]):
    """Match layers by name; when the names differ wholesale (``model.`` vs ``ema.``), by position."""
    by_b = {x.name: x for x in lb}
    common = [x for x in la if x.name in by_b]
    if not common and len(la) == len(lb):
        for x, y in zip(la, lb):
            yield (x.name if x.name == y.name else f"{x.name} ~ {y.name}"), x, y
        return
    for x in la:
        yield x.name, x, by_b.get(x.name)
    names_a = {x.name for x in la}
    for y in lb:
        if y.name not in names_a:
            yield y.name, None, y


def _compare(name: str, la: BNLayer | None, lb: BNLayer | None, atol: float) -> LayerResult:
    if la is None:
        return LayerResult(name, "only-in-b", "BN layer present only in the second checkpoint")
    if lb is None:
        return LayerResult(name, "only-in-a", "BN layer present only in the first checkpoint")
    if la.mean is None or lb.mean is None or la.var is None or lb.var is None:
        return LayerResult(name, "unchanged", "statistics not stored")
    if la.mean.shape != lb.mean.shape:
        return LayerResult(name, "shape-changed", f"{la.mean.shape} -> {lb.mean.shape}")
    ma, mb = as_float(la.mean.load(), la.mean.dtype), as_float(lb.mean.load(), lb.mean.dtype)
    va, vb = as_float(la.var.load(), la.var.dtype), as_float(lb.var.load(), lb.var.dtype)
    with np.errstate(all="ignore"):
        dmean = float(np.nanmax(np.abs(ma - mb))) if ma.size else 0.0
        dvar = float(np.nanmax(np.abs(va - vb))) if va.size else 0.0
    same = _equal(ma, mb, atol) and _equal(va, vb, atol)
    data = {"channels": la.channels, "mean_max_abs_diff": dmean, "var_max_abs_diff": dvar}
    counters = [_count(x) for x in (la, lb)]
    note = f", counter {counters[0]} -> {counters[1]}" if None not in counters else ""
    if None not in counters:
        data["num_batches_tracked"] = counters
    detail = f"max |Δmean| {dmean:.3g}, max |Δvar| {dvar:.3g}{note}"
    return LayerResult(name, "unchanged" if same else "changed", detail, data)


def _equal(x: np.ndarray, y: np.ndarray, atol: float) -> bool:
    return bool(np.allclose(x, y, rtol=0.0, atol=atol, equal_nan=True)) if atol else bool(
        np.array_equal(x, y, equal_nan=True))


def _count(layer: BNLayer) -> int | None:
    if layer.counter is None:
        return None
    arr = layer.counter.load()
    return int(arr.ravel()[0]) if arr.size else None
