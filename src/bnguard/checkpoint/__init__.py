"""Checkpoint inspection: read a saved model and judge its BN statistics without running its code.

``inspect(path)`` -> `bnguard.Report`; ``diff(a, b)`` -> `bnguard.Report`. Readers live in
``bnguard.checkpoint.readers`` (one module per format) and import their libraries lazily.
"""
from bnguard.checkpoint.comparison import diff
from bnguard.checkpoint.errors import CheckpointError, UnsafeCheckpointError
from bnguard.checkpoint.inspection import inspect

__all__ = ["CheckpointError", "UnsafeCheckpointError", "diff", "inspect"]
