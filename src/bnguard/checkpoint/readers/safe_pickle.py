"""A pickle reader that cannot run code: PyTorch's pickled object tree, tensors as descriptors.

`pickle.Unpickler.find_class` is the only way a pickle reaches code. Ours returns *our own* inert
stand-ins for the few globals a PyTorch checkpoint legitimately names (tensor rebuild functions,
storage types, dtypes, OrderedDict, numpy scalars) and refuses everything else before anything is
called. Tensors come back as `LazyTensor` descriptors that say where their bytes are; nothing is read
until a caller asks.
"""
from __future__ import annotations

import collections
import io
import pickle
from dataclasses import dataclass
from typing import Any, Callable

from bnguard.checkpoint.errors import CheckpointError, UnsafeCheckpointError

# torch storage class / dtype name -> numpy dtype name
_STORAGE_DTYPES = {
    "DoubleStorage": "float64", "FloatStorage": "float32", "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16", "LongStorage": "int64", "IntStorage": "int32",
    "ShortStorage": "int16", "CharStorage": "int8", "ByteStorage": "uint8", "BoolStorage": "bool",
    "ComplexFloatStorage": "complex64", "ComplexDoubleStorage": "complex128",
}
_TORCH_DTYPES = {
    "float64": "float64", "double": "float64", "float32": "float32", "float": "float32",
    "float16": "float16", "half": "float16", "bfloat16": "bfloat16", "int64": "int64", "long": "int64",
    "int32": "int32", "int": "int32", "int16": "int16", "short": "int16", "int8": "int8",
    "uint8": "uint8", "bool": "bool", "complex64": "complex64", "complex128": "complex128",
}


@dataclass(frozen=True)
class StorageRef:
    key: str
    dtype: str
    numel: int
    view_offset: int = 0  # legacy format: a view into another storage (elements)


@dataclass(frozen=True)
class LazyTensor:
    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str


@dataclass(frozen=True)
class _StorageType:
    dtype: str


@dataclass(frozen=True)
class _DType:
    name: str


class Inert:
    """Stand-in for a data-only object (numpy scalar, argparse.Namespace): keeps nothing, runs nothing.

    A class (not a function) because pickle's NEWOBJ opcode insists on a type."""

    __slots__ = ()
    kind = "object"

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def __setstate__(self, state: Any) -> None:  # BUILD on an inert object is a no-op
        pass

    def __repr__(self) -> str:
        return f"<{self.kind}>"


def _ints(values: Any, what: str) -> tuple[int, ...]:
    if not isinstance(values, (tuple, list)) or not all(isinstance(v, int) for v in values):
        raise CheckpointError(f"malformed tensor {what} in the pickle")
    return tuple(values)


def _rebuild_tensor(storage, storage_offset, size, stride, *rest, dtype: str | None = None):
    if not isinstance(storage, StorageRef) or not isinstance(storage_offset, int):
        raise CheckpointError("malformed tensor record in the pickle")
    shape, strides = _ints(size, "shape"), _ints(stride, "stride")
    return LazyTensor(storage, storage_offset, shape, strides, dtype or storage.dtype)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, hooks, dtype, *rest):
    name = dtype.name if isinstance(dtype, _DType) else None
    return _rebuild_tensor(storage, storage_offset, size, stride, dtype=name)


def _rebuild_parameter(data, *rest):
    return data


def _rebuild_from_type_v2(func, new_type, args, state):
    if not callable(func) or func not in _SAFE_FUNCTIONS:
        raise UnsafeCheckpointError("the pickle rebuilds a tensor subclass through an unknown function")
    return func(*args)


def _ordered_dict(*args):
    return collections.OrderedDict(*args)


def _inert(kind: str) -> type:
    return type("Inert", (Inert,), {"__slots__": (), "kind": kind})


_SAFE_FUNCTIONS = {_rebuild_tensor, _rebuild_tensor_v3, _rebuild_parameter}

_GLOBALS: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch.nn.parameter", "Parameter"): _inert("torch.nn.Parameter"),
    ("torch", "Tensor"): _inert("torch.Tensor"),
    ("torch", "Size"): tuple,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("argparse", "Namespace"): _inert("argparse.Namespace"),
    ("_codecs", "encode"): lambda s, enc="latin1": s.encode(enc) if isinstance(s, str) else b"",
}
for _np_mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _GLOBALS[(_np_mod, "scalar")] = _inert("numpy scalar")
    _GLOBALS[(_np_mod, "_reconstruct")] = _inert("numpy array")
for _np_name in ("dtype", "ndarray"):
    _GLOBALS[("numpy", _np_name)] = _inert(f"numpy.{_np_name}")
for _dt_mod in ("numpy.dtypes",):
    for _n in ("Float64DType", "Float32DType", "Int64DType", "Int32DType", "BoolDType"):
        _GLOBALS[(_dt_mod, _n)] = _inert(f"numpy.{_n}")


class SafeUnpickler(pickle.Unpickler):
    """Unpickles a PyTorch object tree; tensors become `LazyTensor`s, unknown globals are refused."""

    def __init__(self, file: io.BufferedIOBase, persistent_ids: Callable[[tuple], Any]):
        super().__init__(file, encoding="utf-8")
        self._persistent_ids = persistent_ids

    def find_class(self, module: str, name: str) -> Any:
        found = _GLOBALS.get((module, name))
        if found is not None:
            return found
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if module == "torch" and name in _TORCH_DTYPES:
            return _DType(_TORCH_DTYPES[name])
        if module in ("torch", "torch.storage") and name in ("UntypedStorage", "_LegacyStorage"):
            return _StorageType("uint8")
        if module.startswith("__torch__"):
            raise UnsafeCheckpointError(
                "this is a TorchScript archive (it contains code); save model.state_dict() instead")
        raise UnsafeCheckpointError(
            f"refused: the pickle asks for {module}.{name}, which could run code when loaded; "
            "bnguard only reads tensors (save a state_dict, or a dict of tensors and plain values)")

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple):
            raise CheckpointError("malformed storage record in the pickle")
        return self._persistent_ids(pid)


def storage_dtype(storage_type: Any) -> str:
    if not isinstance(storage_type, _StorageType):
        raise CheckpointError("malformed storage type in the pickle")
    return storage_type.dtype


def safe_load(data: bytes | io.BufferedIOBase, persistent_ids: Callable[[tuple], Any]) -> Any:
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    try:
        return SafeUnpickler(stream, persistent_ids).load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError("the pickle is nested too deeply (corrupted?)") from None
    except Exception as exc:  # any malformed opcode stream lands here: a corrupted file
        raise CheckpointError(f"corrupted pickle ({type(exc).__name__}: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else "no detail"
