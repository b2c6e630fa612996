"""JAX/Flax adapters: the run-time probe of a training step (jax/flax imported on use)."""
from __future__ import annotations

from bnguard._lazy import lazy_getattr

_EXPORTS = {
    "probe": "bnguard.flax.probing",
    "recalibrate": "bnguard.flax.recalibration",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
