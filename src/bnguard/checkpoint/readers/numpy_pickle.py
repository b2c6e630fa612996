"""Plain pickles of numpy arrays, and numpy ``.npz`` archives — read without running anything.

Many checkpoints are neither PyTorch's format nor a framework's own: Detectron2's ``.pkl`` model
zoo (``{"model": {"backbone.res2.0.conv1.norm.running_mean": ndarray, ...}}``), JAX / Haiku / Flax
states saved with ``pickle.dump`` after ``jax.device_get``, ``np.savez`` dumps. A pickle reaches
code only through the globals it names; this reader answers the handful a numpy array needs
(``_reconstruct`` / ``_frombuffer``, ``ndarray``, ``dtype``, ``scalar``) with builders that copy
bytes into ``np.frombuffer`` for plain numeric dtypes, and refuses every other global exactly like
the PyTorch reader does. ``.npz`` entries are ``.npy`` files read with ``allow_pickle=False``.
"""
from __future__ import annotations

import zipfile
from typing import Any

import numpy as np

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.readers.safe_pickle import SafeUnpickler
from bnguard.checkpoint.tensors import Checkpoint, TensorRef, in_memory

# numpy type codes whose bytes are plain numbers ("O" object arrays hold pickled objects: refused)
_NUMERIC_KINDS = frozenset("fiubc")


def _numeric_dtype(spec: Any) -> np.dtype:
    try:
        dt = np.dtype(spec)
    except TypeError:
        raise CheckpointError(f"unsupported numpy dtype {spec!r} in the pickle") from None
    if dt.kind not in _NUMERIC_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise CheckpointError(f"refused: a numpy array of dtype {dt} (only plain numeric arrays are read)")
    return dt


class _DType:
    """``numpy.dtype('f4', False, True)`` followed by BUILD with the byte order."""

    def __init__(self, code: Any = "f8", *_args: Any):
        if not isinstance(code, str):
            raise CheckpointError("malformed numpy dtype in the pickle")
        self.code, self.order = code, "="

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.order = state[1]

    def resolve(self) -> np.dtype:
        return _numeric_dtype(self.code if self.order in ("|", "=") else self.order + self.code)


class _Array:
    """``_reconstruct(ndarray, (0,), b'b')`` followed by BUILD with (version, shape, dtype, fortran, data)."""

    def __init__(self, *_args: Any):
        self.value: np.ndarray | None = None

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) == 5 and isinstance(state[2], _DType)):
            raise CheckpointError("malformed numpy array in the pickle")
        _version, shape, dtype, fortran, data = state
        self.value = _from_bytes(data, dtype.resolve(), shape, "F" if fortran else "C")


def _from_bytes(data: Any, dt: np.dtype, shape: Any, order: str) -> np.ndarray:
    if isinstance(data, str):  # protocol 0-2 pickles of old numpy store bytes as latin-1 text
        data = data.encode("latin1")
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("refused: a numpy array whose data is not raw bytes")
    if not (isinstance(shape, tuple) and all(isinstance(d, int) and d >= 0 for d in shape)):
        raise CheckpointError("malformed numpy array shape in the pickle")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dt.itemsize != len(data):
        raise CheckpointError("a numpy array's size does not match its shape (corrupted?)")
    return np.frombuffer(bytes(data), dtype=dt).reshape(shape, order=order)


def _reconstruct(*args: Any) -> _Array:
    return _Array(*args)


def _frombuffer(data: Any, dtype: Any, shape: Any, order: str = "C") -> np.ndarray:
    """numpy >= 1.16 with pickle protocol 5: ``_frombuffer(bytearray, dtype, shape, order)``."""
    dt = dtype.resolve() if isinstance(dtype, _DType) else _numeric_dtype(dtype)
    return _from_bytes(data, dt, shape, "F" if order == "F" else "C")


def _scalar(dtype: Any, data: Any = b"") -> Any:
    if not isinstance(dtype, _DType):
        raise CheckpointError("malformed numpy scalar in the pickle")
    dt = dtype.resolve()
    arr = _from_bytes(data, dt, (), "C")
    return arr.item()


_NUMPY_GLOBALS = {"_reconstruct": _reconstruct, "_frombuffer": _frombuffer, "scalar": _scalar,
                  "dtype": _DType, "ndarray": object}


class _NumpyUnpickler(SafeUnpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module == "numpy" or module.startswith(("numpy.core.", "numpy._core.")):
            found = _NUMPY_GLOBALS.get(name)
            if found is not None:
                return found
        return super().find_class(module, name)


def _no_persistent_ids(pid: tuple) -> Any:
    raise CheckpointError("a plain pickle that refers to outside storage (not a numpy checkpoint)")


def read_pickle(path: str) -> Checkpoint:
    with open(path, "rb") as f:
        try:
            obj = _NumpyUnpickler(f, _no_persistent_ids).load()
        except CheckpointError:
            raise
        except RecursionError:
            raise CheckpointError("the pickle is nested too deeply (corrupted?)") from None
        except Exception as exc:  # malformed opcode stream: a corrupted or truncated file
            raise CheckpointError(f"corrupted pickle ({type(exc).__name__})") from None
    ckpt = Checkpoint(path=path, format="numpy-pickle", framework="unknown")
    _collect(obj, "", ckpt)
    ckpt.framework = _guess_framework(ckpt.tensors)
    return ckpt


def _collect(obj: Any, prefix: str, ckpt: Checkpoint, depth: int = 0) -> None:
    """Nested dicts / lists of arrays -> ``model.bn1.running_mean`` (``/`` joins the path of
    ``/``-named trees such as Flax's ``batch_stats/BatchNorm_0/mean``)."""
    if depth > 64:
        raise CheckpointError("the object tree is nested too deeply (corrupted?)")
    if isinstance(obj, _Array):
        obj = obj.value
    if isinstance(obj, np.ndarray):
        ckpt.tensors[prefix] = in_memory(prefix, obj)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            key = str(k)
            sep = "/" if "/" in key or (prefix and "/" in prefix) else "."
            _collect(v, f"{prefix}{sep}{key}" if prefix else key, ckpt, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _collect(v, f"{prefix}.{i}" if prefix else str(i), ckpt, depth + 1)
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool) and prefix:
        ckpt.scalars[prefix] = obj


def _guess_framework(tensors: dict) -> str:
    names = list(tensors)
    if any(n.endswith(("running_mean", "running_var")) for n in names):
        return "torch"
    if any("batch_stats" in n for n in names):
        return "flax"
    if any(n.endswith(("moving_mean", "moving_variance")) for n in names):
        return "tf"
    return "unknown"


def is_npz(zf: zipfile.ZipFile) -> bool:
    names = zf.namelist()
    return bool(names) and all(n.endswith(".npy") for n in names)


def read_npz(path: str) -> Checkpoint:
    """``np.savez`` / ``np.savez_compressed``: one ``.npy`` entry per array; headers are read for
    names and shapes, the data only when a statistic is asked for."""
    ckpt = Checkpoint(path=path, format="numpy-npz", framework="unknown")
    zf = zipfile.ZipFile(path)
    ckpt.resources.append(zf)  # the lazy loaders read from it; closed with the checkpoint
    for entry in zf.namelist():
        with zf.open(entry) as f:
            try:
                version = np.lib.format.read_magic(f)
                if version == (1, 0):
                    shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
                else:
                    shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
            except ValueError as exc:
                raise CheckpointError(f"{entry}: not a readable .npy entry ({exc})") from None
        if dtype.hasobject:
            continue  # object arrays would need unpickling: not read
        name = entry[: -len(".npy")]
        ckpt.tensors[name] = TensorRef(name, tuple(int(d) for d in shape), dtype.name, _npz_loader(zf, entry))
    ckpt.framework = _guess_framework(ckpt.tensors)
    return ckpt


def _npz_loader(zf: zipfile.ZipFile, entry: str):
    def load():
        with zf.open(entry) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    return load
