"""PyTorch adapters: probe, freeze, consistency, recalibration, monitoring.

Importing this package imports torch (it is the torch extra); the public names are loaded lazily
so that ``import bnguard.torch`` stays cheap until one is used.
"""
from __future__ import annotations

from bnguard._lazy import lazy_getattr

_EXPORTS = {
    "Monitor": "bnguard.torch.monitor",
    "bn_like_modules": "bnguard.torch.monitor",
    "recalibrate": "bnguard.torch.recalibration",
    "swa_finish": "bnguard.torch.recalibration",
    "RecalibrationReport": "bnguard.torch.recalibration",
    "probe": "bnguard.torch.probing",
    "freeze_bn": "bnguard.torch.freeze",
    "unfreeze_bn": "bnguard.torch.freeze",
    "consistency": "bnguard.torch.consistency_check",
    "bn_layers": "bnguard.torch.layers",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
