"""Are the stored BN statistics plausible for this data? `consistency(model, batch)`.

For every BN-like layer, the batch statistics the layer would compute in training mode on
``batch`` are compared with its stored running statistics:

* ``mean_shift``: root-mean-square over channels of ``(batch_mean - running_mean) /
  sqrt(running_var + eps)``, the mean gap in units of the stored standard deviation;
* ``log_var_ratio``: mean over channels of ``|log((batch_var + eps) / (running_var + eps))|``
  (0.69 means a factor 2 in variance).

``distance = max(mean_shift, log_var_ratio)``. Verdicts:

* ``consistent``: distance <= ``threshold`` (default 1.0; healthy layers usually sit well below
  0.5 on batches of a few dozen samples);
* ``inconsistent``: the stored statistics do not describe this data (stale statistics after a
  domain change or frozen BN during fine-tuning, a train/eval gap, stats from another model);
* ``at-init``: running mean all 0 and variance all 1 (and ``num_batches_tracked == 0``): the
  layer never updated, e.g. trained in eval mode throughout;
* ``nonfinite``: NaN/Inf in the stored statistics;
* ``not-called``: the forward pass on ``batch`` did not reach the layer.

Only ``consistent`` is healthy. The model is left exactly as it was: BN layers run in training
mode under ``torch.no_grad()`` and every buffer, flag and RNG state is restored afterwards.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from bnguard.result import LayerResult, Report
from bnguard.torch.layers import bn_layers, channel_dim
from bnguard.torch.snapshot import TrainingSnapshot

__all__ = ["consistency", "CONSISTENCY_OK_VERDICTS"]

CONSISTENCY_OK_VERDICTS = frozenset({"consistent"})


def consistency(model: nn.Module, batch: Any, *, forward: Callable[[nn.Module, Any], Any] | None = None,
                threshold: float = 1.0) -> Report:
    """Compare train-mode batch statistics on ``batch`` with each layer's running statistics.

    ``forward(model, batch)`` runs the model (default: ``model(batch)`` for a tensor,
    ``model(batch[0])`` for a tuple/list such as ``(inputs, labels)``, ``model(**batch)`` for a
    dict). Returns a `Report` (kind ``"consistency"``) with one result per BN-like layer.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"consistency() needs a torch.nn.Module, got {type(model).__name__}")
    forward = forward or _default_forward
    layers = list(bn_layers(model))
    seen: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    handles = []
    for name, module in layers:
        handles.append(module.register_forward_pre_hook(_make_hook(name, seen)))
    snapshot = TrainingSnapshot.take(model)
    try:
        for _, module in layers:
            module.train()  # batch statistics, as in training; restored below
        with torch.no_grad():
            forward(model, batch)
    finally:
        for h in handles:
            h.remove()
        snapshot.restore()
    results = [_judge(name, module, seen.get(name), threshold) for name, module in layers]
    return Report(kind="consistency", layers=results, ok_verdicts=CONSISTENCY_OK_VERDICTS,
                  meta={"threshold": threshold})


def _default_forward(model: nn.Module, batch: Any) -> Any:
    if isinstance(batch, dict):
        return model(**batch)
    if isinstance(batch, (tuple, list)):
        return model(batch[0])
    return model(batch)


def _make_hook(name: str, seen: dict):
    def hook(module: nn.Module, args: tuple) -> None:
        if name in seen or not args or not isinstance(args[0], torch.Tensor):
            return  # the first call is the layer's own input on this batch
        x = args[0]
        dim = channel_dim(module, x)
        if dim is None or not x.is_floating_point():
            return
        flat = x.detach().movedim(dim, 0).reshape(x.shape[dim], -1).double()
        if flat.shape[1] >= 2:
            seen[name] = (flat.mean(dim=1), flat.var(dim=1, unbiased=True))
    return hook


def _judge(name: str, module: nn.Module, batch_stats, threshold: float) -> LayerResult:
    run_mean = module.running_mean.detach().double().cpu()
    run_var = module.running_var.detach().double().cpu()
    nbt = getattr(module, "num_batches_tracked", None)
    if not (torch.isfinite(run_mean).all() and torch.isfinite(run_var).all()):
        return LayerResult(name, "nonfinite", "NaN or Inf in the stored running statistics")
    if bool((run_mean == 0).all() and (run_var == 1).all()) and (nbt is None or int(nbt) == 0):
        return LayerResult(name, "at-init", "running mean is all 0 and variance all 1: the layer "
                           "never updated its statistics (trained in eval mode, or never trained)",
                           {"num_batches_tracked": None if nbt is None else int(nbt)})
    if batch_stats is None:
        return LayerResult(name, "not-called", "the forward pass on this batch did not reach the "
                           "layer (or its input layout could not be read)")
    eps = float(getattr(module, "eps", 1e-5))
    b_mean, b_var = (t.cpu() for t in batch_stats)
    shift = float(torch.sqrt((((b_mean - run_mean) ** 2) / (run_var + eps)).mean()))
    log_ratio = float(torch.log((b_var + eps) / (run_var.clamp_min(0) + eps)).abs().mean())
    distance = max(shift, log_ratio)
    data = {"mean_shift": round(shift, 4), "log_var_ratio": round(log_ratio, 4),
            "distance": round(distance, 4), "threshold": threshold}
    if not math.isfinite(distance) or distance > threshold:
        return LayerResult(name, "inconsistent", f"stored statistics do not fit this batch: mean "
                           f"shift {shift:.2f} std, mean |log variance ratio| {log_ratio:.2f} "
                           f"(threshold {threshold}); stale or never-matched statistics", data)
    return LayerResult(name, "consistent", f"distance {distance:.2f} <= {threshold}", data)
