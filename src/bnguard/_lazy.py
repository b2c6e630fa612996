"""Lazy public names for the framework adapter packages.

``bnguard.torch``, ``bnguard.keras``, ``bnguard.flax`` and ``bnguard.tf1`` export their API by name
but import the module behind a name (and with it the framework) only when the name is first used.
"""
from __future__ import annotations

import importlib
from typing import Callable


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], object]:
    """A module-level ``__getattr__`` that resolves ``exports`` (name -> module) on first use."""

    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    return __getattr__
