"""Keras 3 adapters: run-time probe and the BNGuardCallback for ``fit`` (keras imported on use)."""
from __future__ import annotations

from bnguard._lazy import lazy_getattr

_EXPORTS = {
    "probe": "bnguard.keras.probing",
    "BNGuardCallback": "bnguard.keras.callback",
    "BNGuardWarning": "bnguard.keras.callback",
    "bn_layers": "bnguard.keras.layers",
    "recalibrate": "bnguard.keras.recalibration",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
