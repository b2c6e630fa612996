"""PyTorch checkpoints (``torch.save``): the zip format (torch >= 1.6) and the legacy pickle stream.

Read without torch and without unpickling anything but tensors and plain containers (see
`safe_pickle`). Tensor bytes are memory-mapped straight out of the file: in the zip format each
storage is an uncompressed ``<archive>/data/<key>`` entry; in the legacy format the storages follow
the pickles, each prefixed with its element count.
"""
from __future__ import annotations

import os
import pickle
import struct
import zipfile
from typing import Any

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.readers import arrays
from bnguard.checkpoint.readers.safe_pickle import LazyTensor, StorageRef, safe_load, storage_dtype
from bnguard.checkpoint.tensors import Checkpoint, TensorRef

MAX_PICKLE_BYTES = 512 * 1024 * 1024  # data.pkl of a huge checkpoint is a few MB
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


def is_torch_zip(zf: zipfile.ZipFile) -> bool:
    return any(n.endswith("data.pkl") and n.count("/") == 1 for n in zf.namelist())


def read_zip(path: str, zf: zipfile.ZipFile) -> Checkpoint:
    names = zf.namelist()
    pkl = next(n for n in names if n.endswith("data.pkl") and n.count("/") == 1)
    root = pkl.rsplit("/", 1)[0]
    if f"{root}/constants.pkl" in names or any(n.startswith(f"{root}/code/") for n in names):
        raise CheckpointError(
            "this is a TorchScript archive (it contains code); save model.state_dict() instead")
    info = zf.getinfo(pkl)
    if info.file_size > MAX_PICKLE_BYTES:
        raise CheckpointError("data.pkl is implausibly large (corrupted?)")
    byteorder = zf.read(f"{root}/byteorder").decode(errors="replace") if f"{root}/byteorder" in names else "little"
    if byteorder.strip() not in ("little", ""):
        raise CheckpointError("big-endian PyTorch checkpoints are not supported")
    file_size = os.path.getsize(path)

    def storage(pid: tuple) -> StorageRef:
        if len(pid) < 5 or pid[0] != "storage":
            raise CheckpointError("malformed storage record in data.pkl")
        _, stype, key, _location, numel = pid[:5]
        return StorageRef(str(key), storage_dtype(stype), int(numel))

    obj = safe_load(zf.read(pkl), storage)

    def locate(ref: StorageRef, dtype: str):
        entry = f"{root}/data/{ref.key}"
        try:
            einfo = zf.getinfo(entry)
        except KeyError:
            raise CheckpointError(f"storage {ref.key} is missing from the archive (truncated?)") from None
        dt = arrays.numpy_dtype(dtype)
        count = einfo.file_size // dt.itemsize
        if einfo.compress_type != zipfile.ZIP_STORED:  # re-zipped by hand: read the (small) entry
            import numpy as np

            return np.frombuffer(zf.read(entry), dtype=dt, count=count)
        return arrays.memmap(path, dtype, _data_offset(path, einfo), count, file_size)

    ckpt = Checkpoint(path=path, format="pytorch-zip", framework="torch")
    _collect(obj, "", ckpt, locate)
    return ckpt


def _data_offset(path: str, info: zipfile.ZipInfo) -> int:
    """Byte offset of a stored entry's data: after its local header (whose extra field may differ
    from the central directory's)."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        header = f.read(30)
    if len(header) != 30 or header[:4] != b"PK\x03\x04":
        raise CheckpointError("corrupted zip entry header")
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return info.header_offset + 30 + name_len + extra_len


def read_legacy(path: str) -> Checkpoint:
    """The pre-1.6 format: magic, protocol, sys_info, the object pickle, the storage key list, then
    the storages (int64 element count + raw data each)."""
    file_size = os.path.getsize(path)
    storages: dict[str, StorageRef] = {}

    def storage(pid: tuple) -> Any:
        if len(pid) < 6 or pid[0] != "storage":
            raise CheckpointError("malformed storage record in the legacy pickle")
        _, stype, key, _location, numel, view = pid[:6]
        ref = StorageRef(str(key), storage_dtype(stype), int(numel))
        storages.setdefault(ref.key, ref)
        if view is not None:
            if not (isinstance(view, tuple) and len(view) == 3):
                raise CheckpointError("malformed storage view in the legacy pickle")
            return StorageRef(str(key), ref.dtype, int(view[2]), int(view[1]))
        return ref

    with open(path, "rb") as f:
        magic = _plain_pickle(f)
        if magic != LEGACY_MAGIC:
            raise CheckpointError("not a PyTorch checkpoint (bad magic number)")
        _plain_pickle(f)  # protocol version
        _plain_pickle(f)  # sys info
        obj = safe_load(f, storage)
        keys = _plain_pickle(f)
        if not isinstance(keys, list):
            raise CheckpointError("malformed storage list in the legacy checkpoint")
        offsets: dict[str, int] = {}
        pos = f.tell()
        for key in keys:
            ref = storages.get(str(key))
            if ref is None:
                raise CheckpointError("storage list does not match the pickle (corrupted?)")
            f.seek(pos)
            head = f.read(8)
            if len(head) != 8:
                raise CheckpointError("the file ends inside the tensor data (truncated?)")
            (numel,) = struct.unpack("<q", head)
            offsets[ref.key] = pos + 8
            pos += 8 + max(numel, 0) * arrays.numpy_dtype(ref.dtype).itemsize
            if numel < 0 or pos > file_size:
                raise CheckpointError("the file ends inside the tensor data (truncated?)")

    def locate(ref: StorageRef, dtype: str):
        base = storages.get(ref.key)
        if base is None or ref.key not in offsets:
            raise CheckpointError(f"storage {ref.key} has no data (truncated?)")
        flat = arrays.memmap(path, base.dtype, offsets[ref.key], base.numel, file_size)
        return flat[ref.view_offset:ref.view_offset + ref.numel]  # a legacy view, or the whole storage

    ckpt = Checkpoint(path=path, format="pytorch-legacy", framework="torch")
    _collect(obj, "", ckpt, locate)
    return ckpt


def _plain_pickle(f) -> Any:
    """The legacy header pickles hold only ints, dicts and strings: no globals allowed at all."""
    try:
        return _NoGlobals(f).load()
    except CheckpointError:
        raise
    except Exception:
        raise CheckpointError("not a readable PyTorch checkpoint (corrupted or truncated header)") from None


class _NoGlobals(pickle.Unpickler):
    def find_class(self, module, name):
        raise CheckpointError(f"refused: the header pickle asks for {module}.{name}")

    def persistent_load(self, pid):
        raise CheckpointError("malformed PyTorch header")


def _collect(obj: Any, prefix: str, ckpt: Checkpoint, locate, depth: int = 0) -> None:
    """Flatten nested dicts/lists of tensors into dotted names (``model.bn1.running_mean``)."""
    if depth > 64:
        raise CheckpointError("the object tree is nested too deeply (corrupted?)")
    if isinstance(obj, LazyTensor):
        ckpt.tensors[prefix] = _tensor_ref(prefix, obj, locate)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _collect(v, f"{prefix}.{k}" if prefix else str(k), ckpt, locate, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _collect(v, f"{prefix}.{i}" if prefix else str(i), ckpt, locate, depth + 1)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and prefix:
        ckpt.scalars[prefix] = obj


def _tensor_ref(name: str, t: LazyTensor, locate) -> TensorRef:
    def load():
        return arrays.strided(locate(t.storage, t.dtype), t.offset, t.shape, t.stride)

    return TensorRef(name, t.shape, t.dtype, load)
