"""Finding BN-like layers in a PyTorch model.

A layer is BN-like when it keeps running statistics: every ``torch.nn.modules.batchnorm._BatchNorm``
subclass (BatchNorm1d/2d/3d, SyncBatchNorm, LazyBatchNorm*) with ``track_running_stats=True``,
and any other module that owns ``running_mean`` and ``running_var`` tensors (custom BN layers,
InstanceNorm with ``track_running_stats=True``). Layers without running statistics
(``track_running_stats=False``) always normalise with batch statistics, so nothing can go stale.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ["is_bn_like", "bn_layers", "channel_dim"]


def is_bn_like(module: nn.Module) -> bool:
    """True if ``module`` keeps running mean/variance statistics."""
    mean = getattr(module, "running_mean", None)
    var = getattr(module, "running_var", None)
    if isinstance(mean, torch.Tensor) and isinstance(var, torch.Tensor):
        return True
    return False


def bn_layers(model_or_modules: nn.Module | Iterable[nn.Module]) -> Iterator[tuple[str, nn.Module]]:
    """Yield ``(qualified name, module)`` for every BN-like layer, each module once."""
    if isinstance(model_or_modules, nn.Module):
        items: Iterable[tuple[str, nn.Module]] = model_or_modules.named_modules()
    else:
        items = []
        for i, m in enumerate(model_or_modules):
            if not isinstance(m, nn.Module):
                raise TypeError(f"expected torch.nn.Module, got {type(m).__name__}")
            items.extend((f"{i}.{n}" if n else str(i), sub) for n, sub in m.named_modules())
    seen: set[int] = set()
    for name, module in items:
        if id(module) in seen or not is_bn_like(module):
            continue
        seen.add(id(module))
        yield name or type(module).__name__, module


def channel_dim(module: nn.Module, x: torch.Tensor) -> int | None:
    """The input dimension that holds the BN channels, or None if it cannot be told.

    ``_BatchNorm`` normalises over dim 1. A custom layer may be channels-last; then the last
    dimension must match the number of running statistics.
    """
    channels = module.running_mean.numel()
    if isinstance(module, _BatchNorm) or (x.dim() >= 2 and x.shape[1] == channels):
        return 1 if x.dim() >= 2 and x.shape[1] == channels else None
    if x.dim() >= 1 and x.shape[-1] == channels:
        return x.dim() - 1
    return None
