"""JAX/Flax adapters: the run-time probe of a training step (jax/flax imported on use)."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "probe": "bnguard.flax.probing",
    "recalibrate": "bnguard.flax.recalibration",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'bnguard.flax' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)
