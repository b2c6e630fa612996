"""bnguard: find, explain and repair batch-normalization training-mode bugs.

The package root imports nothing heavy: framework adapters live in ``bnguard.torch``,
``bnguard.keras``, ``bnguard.flax`` and ``bnguard.tf1`` and import their framework lazily.
"""
from bnguard.result import BNProblem, LayerResult, Report

__version__ = "0.1.0"
__all__ = ["BNProblem", "LayerResult", "Report", "__version__"]
