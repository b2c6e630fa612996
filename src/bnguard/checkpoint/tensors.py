"""What every reader produces: named tensor descriptors whose data is read only on demand.

A reader never loads the whole checkpoint: it lists names, shapes and dtypes, and each
`TensorRef.load()` reads (usually memory-maps) just that one tensor. BN statistics are tiny, so
inspecting a multi-GB file touches a few kilobytes of it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@dataclass
class TensorRef:
    name: str
    shape: tuple[int, ...]
    dtype: str
    loader: Callable[[], Any] = field(repr=False)

    @property
    def is_float(self) -> bool:
        return self.dtype.startswith(("float", "bfloat")) or self.dtype in ("half", "double")

    def load(self) -> np.ndarray:
        arr = np.asarray(self.loader())
        if tuple(arr.shape) != tuple(self.shape):
            arr = arr.reshape(self.shape)
        return arr


def in_memory(name: str, value: Any) -> TensorRef:
    """A descriptor for an array that is already in memory (small formats: msgpack, onnx)."""
    arr = np.asarray(value)
    return TensorRef(name, tuple(int(d) for d in arr.shape), arr.dtype.name, lambda: arr)


@dataclass
class KnownBN:
    """A BN layer a reader identified from the format's own metadata (Keras config, ONNX node)."""

    name: str
    mean: TensorRef | None
    var: TensorRef | None
    scale: TensorRef | None = None
    offset: TensorRef | None = None
    training_mode: bool = False
    note: str = ""


@dataclass
class Checkpoint:
    """The readable content of one checkpoint."""

    path: str
    format: str
    framework: str  # torch | keras | tf | flax | onnx | unknown
    tensors: dict[str, TensorRef] = field(default_factory=dict)
    known_bn: list[KnownBN] | None = None  # set when the format says which layers are BN
    scalars: dict[str, Any] = field(default_factory=dict)  # e.g. global_step, epoch
    graph_report: Any = None  # a Report from bnguard.tf1.check_graph on the .meta graph
    notes: list[str] = field(default_factory=list)
    # open files the lazy loaders read from (h5py, zip); released with the Checkpoint
    resources: list[Any] = field(default_factory=list, repr=False)
