"""Flax ``flax.serialization.to_bytes`` files: msgpack with numpy arrays as extension types.

Decoded with msgpack alone (no flax, no jax): ext 1 = ndarray ``(shape, dtype name, bytes)``,
ext 3 = numpy scalar ``(dtype name, bytes)``, plus flax's chunked-array dicts for huge arrays.
"""
from __future__ import annotations

import mmap
import os

import numpy as np

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.readers.arrays import numpy_dtype
from bnguard.checkpoint.tensors import Checkpoint, in_memory

_EXT_NDARRAY, _EXT_COMPLEX, _EXT_SCALAR = 1, 2, 3


def _ext_hook(code: int, data: bytes):
    import msgpack

    if code == _EXT_NDARRAY:
        shape, dtype_name, buf = msgpack.unpackb(data, raw=False)
        dt = numpy_dtype(dtype_name)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if count < 0 or count * dt.itemsize != len(buf):
            raise CheckpointError("an array's size does not match its shape (corrupted?)")
        return np.frombuffer(buf, dtype=dt).reshape(shape)
    if code == _EXT_SCALAR:
        dtype_name, buf = msgpack.unpackb(data, raw=False)
        return np.frombuffer(buf, dtype=numpy_dtype(dtype_name))[0]
    if code == _EXT_COMPLEX:
        return complex(*msgpack.unpackb(data))
    raise CheckpointError(f"unknown msgpack extension type {code}")


def read(path: str) -> Checkpoint:
    import msgpack

    if os.path.getsize(path) == 0:
        raise CheckpointError("the file is empty (0 bytes)")
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        try:
            tree = msgpack.unpackb(mm, ext_hook=_ext_hook, raw=False, strict_map_key=False)
        except CheckpointError:
            raise
        except Exception as exc:
            raise CheckpointError(f"not a readable Flax msgpack file ({type(exc).__name__})") from None
    ckpt = Checkpoint(path=path, format="flax-msgpack", framework="flax")
    flatten(tree, "", ckpt)
    return ckpt


def flatten(tree, prefix: str, ckpt: Checkpoint, depth: int = 0) -> None:
    """Nested dicts -> ``batch_stats/BatchNorm_0/mean`` names; flax chunked arrays are reassembled."""
    if depth > 64:
        raise CheckpointError("nested too deeply (corrupted?)")
    if isinstance(tree, dict):
        if "__msgpack_chunked_array__" in tree:  # flax stores shape and chunks as {"0": ..., "1": ...}
            parts = _ordered_values(tree.get("chunks"))
            shape = tuple(int(d) for d in _ordered_values(tree.get("shape")))
            whole = np.concatenate([np.ravel(p) for p in parts]) if parts else np.zeros(0)
            ckpt.tensors[prefix] = in_memory(prefix, whole.reshape(shape))
            return
        for k, v in tree.items():
            flatten(v, f"{prefix}/{k}" if prefix else str(k), ckpt, depth + 1)
    elif isinstance(tree, (list, tuple)) and tree and not isinstance(tree[0], (int, float, str)):
        for i, v in enumerate(tree):
            flatten(v, f"{prefix}/{i}" if prefix else str(i), ckpt, depth + 1)
    elif isinstance(tree, (np.ndarray, np.generic)):
        ckpt.tensors[prefix] = in_memory(prefix, tree)
    elif isinstance(tree, (int, float)) and not isinstance(tree, bool) and prefix:
        ckpt.scalars[prefix] = tree


def _ordered_values(d) -> list:
    if not isinstance(d, dict):
        raise CheckpointError("malformed chunked array (corrupted?)")
    return [d[k] for k in sorted(d, key=lambda k: int(k))]
