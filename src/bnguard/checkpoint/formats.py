"""Recognise a checkpoint's format from its content (not its extension) and hand it to its reader.

Every failure — missing, empty, truncated, corrupted, encrypted, unknown — leaves here as one
`CheckpointError` with a one-line message; nothing else escapes.
"""
from __future__ import annotations

import os
import zipfile
from contextlib import contextmanager

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.tensors import Checkpoint

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"


def open_checkpoint(path: str) -> Checkpoint:
    with read_errors(path):
        return _dispatch(path)


@contextmanager
def read_errors(path: str):
    """Turn anything a damaged file makes a parser raise — while opening it or while reading a tensor
    lazily later — into one `CheckpointError` line that names the file."""
    try:
        yield
    except CheckpointError as exc:
        msg = str(exc)
        raise type(exc)(msg if msg.startswith(path) else f"{path}: {msg}") from None
    except MemoryError:
        raise CheckpointError(f"{path}: corrupted (a size field asks for more memory than exists)") from None
    except RecursionError:
        raise CheckpointError(f"{path}: corrupted (nested too deeply)") from None
    except Exception as exc:  # a third-party parser choking on a damaged file
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path}: unreadable or corrupted checkpoint ({type(exc).__name__}: {detail})") from None


def _dispatch(path: str) -> Checkpoint:
    if os.path.isdir(path):
        return _open_dir(path)
    tf_prefix = _tf_prefix(path)
    if tf_prefix is not None:
        from bnguard.checkpoint.readers import tf_checkpoint

        return tf_checkpoint.read(tf_prefix)
    if not os.path.exists(path):
        raise CheckpointError("no such file or directory")
    size = os.path.getsize(path)
    if size == 0:
        raise CheckpointError("the file is empty (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(64)
    if head.startswith(ZIP_MAGIC) or (zipfile.is_zipfile(path) and head[:2] == b"PK"):
        return _open_zip(path)
    if head.startswith(HDF5_MAGIC):
        from bnguard.checkpoint.readers import keras

        return keras.read_h5(path)
    from bnguard.checkpoint.readers import safetensors

    if safetensors.looks_like_safetensors(head, size):
        return safetensors.read(path)
    if head[:2] == b"\x80\x02" and head[2:3] == b"\x8a":  # pickle protocol 2 + LONG1: legacy torch magic
        from bnguard.checkpoint.readers import torch_zip

        return torch_zip.read_legacy(path)
    if head[:1] == b"\x80":  # a plain pickle: only numpy arrays and plain containers are read from it
        from bnguard.checkpoint.readers import numpy_pickle

        return numpy_pickle.read_pickle(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".onnx" or _looks_like_onnx(head):
        from bnguard.checkpoint.readers import onnx_model

        return onnx_model.read(path)
    if ext in (".msgpack", ".flax", ".mpk") or head[:1] in (b"\x82", b"\x83", b"\x84", b"\x85", b"\xde", b"\x81"):
        from bnguard.checkpoint.readers import flax_msgpack

        return flax_msgpack.read(path)
    if head.startswith(b"\x1f\x8b"):
        raise CheckpointError("a gzip file: decompress it first")
    raise CheckpointError(
        "not a recognised checkpoint format (expected .pt/.pth/.bin, .safetensors, .keras, .h5, "
        "a TF checkpoint prefix, Flax msgpack, an Orbax folder, .onnx, .npz or a pickle of numpy arrays)")


def _looks_like_onnx(head: bytes) -> bool:
    # ModelProto starts with field 1 (ir_version, varint: 0x08) and usually field 2/3 soon after
    return head[:1] == b"\x08" and b"\x12" in head[:8] or head[:1] == b"\x08" and b"\x3a" in head[:16]


def _open_zip(path: str) -> Checkpoint:
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        raise CheckpointError("corrupted or truncated zip archive") from None
    with zf:
        if any(i.flag_bits & 0x1 for i in zf.infolist()):
            raise CheckpointError("the zip archive is password-protected (encrypted); decrypt it first")
        names = set(zf.namelist())
        from bnguard.checkpoint.readers import torch_zip

        if torch_zip.is_torch_zip(zf):
            return torch_zip.read_zip(path, zf)
        if "model.weights.h5" in names:
            from bnguard.checkpoint.readers import keras

            return keras.read_keras_zip(path, zf)
        from bnguard.checkpoint.readers import numpy_pickle

        if numpy_pickle.is_npz(zf):
            return numpy_pickle.read_npz(path)
    raise CheckpointError("a zip archive that is neither a PyTorch checkpoint, a .keras model nor a numpy .npz")


def _tf_prefix(path: str) -> str | None:
    """A TF checkpoint is named by its prefix; accept the prefix, ``.index``, ``.meta`` or a data shard."""
    for suffix in (".index", ".meta"):
        if path.endswith(suffix):
            return path[: -len(suffix)] if os.path.exists(path[: -len(suffix)] + ".index") else None
    if ".data-" in os.path.basename(path):
        prefix = path[: path.rfind(".data-")]
        return prefix if os.path.exists(prefix + ".index") else None
    if not os.path.exists(path) and os.path.exists(path + ".index"):
        return path
    return None


def _open_dir(path: str) -> Checkpoint:
    entries = set(os.listdir(path))
    if entries & {"_CHECKPOINT_METADATA", "_METADATA", "manifest.ocdbt", "commit_success.txt"}:
        from bnguard.checkpoint.readers import orbax

        return orbax.read(path)
    if "saved_model.pb" in entries and os.path.exists(os.path.join(path, "variables", "variables.index")):
        from bnguard.checkpoint.readers import tf_checkpoint

        return tf_checkpoint.read(os.path.join(path, "variables", "variables"))
    if "checkpoint" in entries or any(e.endswith(".index") for e in entries):
        from bnguard.checkpoint.readers import tf_checkpoint

        return tf_checkpoint.read(tf_checkpoint.latest_prefix(path))
    shards = sorted(e for e in entries if e.endswith(_SHARD_EXTENSIONS) and os.path.isfile(os.path.join(path, e)))
    if shards:
        return _merge_shards(path, shards)
    raise CheckpointError("a folder with no checkpoint in it (expected an Orbax checkpoint, a SavedModel, "
                          "a TF checkpoint, or .safetensors/.bin/.pt weight shards)")


_SHARD_EXTENSIONS = (".safetensors", ".bin", ".pt", ".pth")


def _merge_shards(path: str, shards: list[str]) -> Checkpoint:
    """A model saved in shards (``model-00001-of-00003.safetensors``...): one checkpoint of all tensors."""
    merged = Checkpoint(path=path, format="", framework="unknown")
    for shard in shards:
        part = _dispatch(os.path.join(path, shard))
        merged.format = merged.format or f"shards of {part.format}"
        if merged.framework == "unknown":
            merged.framework = part.framework
        merged.tensors.update(part.tensors)
        merged.scalars.update(part.scalars)
        merged.resources.extend(part.resources)
    merged.notes.append(f"{len(shards)} weight file(s) read")
    return merged
