"""``.safetensors``: an 8-byte header length, a JSON header, then raw little-endian tensor bytes.

Parsed by hand (no torch, no TF, not even the safetensors package) and memory-mapped, so only the
tensors asked for are ever read.
"""
from __future__ import annotations

import json
import os
import struct

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.readers import arrays
from bnguard.checkpoint.tensors import Checkpoint, TensorRef

MAX_HEADER = 100 * 1024 * 1024  # the format's own limit
_DTYPES = {
    "F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
    "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64", "U32": "uint32", "U16": "uint16",
    "U8": "uint8", "BOOL": "bool",
}


def looks_like_safetensors(head: bytes, file_size: int) -> bool:
    if len(head) < 9:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n <= min(MAX_HEADER, file_size - 8) and head[8:9] == b"{"


def read(path: str) -> Checkpoint:
    file_size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise CheckpointError("too short to be a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > MAX_HEADER or 8 + n > file_size:
            raise CheckpointError("safetensors header length is past the end of the file (truncated?)")
        try:
            header = json.loads(f.read(n))
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError("safetensors header is not valid JSON (corrupted?)") from None
    if not isinstance(header, dict):
        raise CheckpointError("safetensors header is not a JSON object")
    ckpt = Checkpoint(path=path, format="safetensors", framework="unknown")
    base = 8 + n
    for name, spec in header.items():
        if name == "__metadata__":
            if isinstance(spec, dict):
                ckpt.notes.extend(f"{k}={v}" for k, v in list(spec.items())[:8])
            continue
        ckpt.tensors[name] = _tensor(path, name, spec, base, file_size)
    if any(k.endswith(("running_mean", "num_batches_tracked")) for k in ckpt.tensors):
        ckpt.framework = "torch"
    return ckpt


def _tensor(path: str, name: str, spec, base: int, file_size: int) -> TensorRef:
    try:
        dtype = _DTYPES[spec["dtype"]]
        shape = tuple(int(d) for d in spec["shape"])
        start, end = (int(x) for x in spec["data_offsets"])
    except (KeyError, TypeError, ValueError):
        raise CheckpointError(f"safetensors entry {name!r} is malformed") from None
    count = 1
    for d in shape:
        if d < 0:
            raise CheckpointError(f"safetensors entry {name!r} has a negative dimension")
        count *= d
    itemsize = arrays.numpy_dtype(dtype).itemsize
    if not 0 <= start <= end or end - start != count * itemsize or base + end > file_size:
        raise CheckpointError(f"safetensors entry {name!r} does not fit the file (truncated?)")

    def load():
        return arrays.memmap(path, dtype, base + start, count, file_size).reshape(shape)

    return TensorRef(name, shape, dtype, load)
