"""Keras 3 adapters: run-time probe and the BNGuardCallback for ``fit`` (keras imported on use)."""
from __future__ import annotations

import importlib

_EXPORTS = {
    "probe": "bnguard.keras.probing",
    "BNGuardCallback": "bnguard.keras.callback",
    "BNGuardWarning": "bnguard.keras.callback",
    "bn_layers": "bnguard.keras.layers",
    "recalibrate": "bnguard.keras.recalibration",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    mod = _EXPORTS.get(name)
    if mod is None:
        raise AttributeError(f"module 'bnguard.keras' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)
