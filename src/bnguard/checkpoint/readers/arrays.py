"""Turn raw bytes (memory-mapped or read) into numpy arrays, checking every size against the file."""
from __future__ import annotations

import numpy as np

from bnguard.checkpoint.errors import CheckpointError


def numpy_dtype(name: str) -> np.dtype:
    if name == "bfloat16":
        try:
            import ml_dtypes

            return np.dtype(ml_dtypes.bfloat16)
        except ImportError:  # read as raw 16-bit words; `as_float` widens them
            return np.dtype("uint16")
    try:
        return np.dtype(name)
    except TypeError:
        raise CheckpointError(f"unsupported dtype {name!r}") from None


def memmap(path: str, dtype: str, offset: int, count: int, file_size: int) -> np.ndarray:
    """``count`` elements of ``dtype`` at byte ``offset`` of ``path``, without reading the file."""
    dt = numpy_dtype(dtype)
    if offset < 0 or count < 0 or offset + count * dt.itemsize > file_size:
        raise CheckpointError("a tensor extends past the end of the file (truncated?)")
    if count == 0:
        return np.zeros(0, dt)
    return np.memmap(path, dtype=dt, mode="r", offset=offset, shape=(count,))


def strided(flat: np.ndarray, offset: int, shape: tuple[int, ...], stride: tuple[int, ...]) -> np.ndarray:
    """A view of ``flat`` like ``torch.as_strided``; bounds are checked so a corrupt stride cannot
    read outside the storage."""
    if len(shape) != len(stride) or any(d < 0 for d in shape) or any(s < 0 for s in stride):
        raise CheckpointError("malformed tensor shape or stride")
    if any(d == 0 for d in shape):
        return np.zeros(shape, flat.dtype)
    last = offset + sum((d - 1) * s for d, s in zip(shape, stride))
    if offset < 0 or last >= flat.shape[0]:
        raise CheckpointError("a tensor points outside its storage (corrupted?)")
    item = flat.dtype.itemsize
    return np.lib.stride_tricks.as_strided(
        flat[offset:], shape=shape, strides=tuple(s * item for s in stride), writeable=False)


def as_float(arr: np.ndarray, dtype_name: str) -> np.ndarray:
    """float64 copy of a (small) BN statistic, whatever its stored dtype."""
    if dtype_name == "bfloat16" and arr.dtype == np.uint16:
        return (arr.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return np.asarray(arr, dtype=np.float64)
