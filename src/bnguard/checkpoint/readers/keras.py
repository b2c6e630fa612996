"""Keras files: ``.keras`` (zip of config.json + model.weights.h5), Keras 3 ``.weights.h5``, and
legacy tf_keras ``.h5`` (``model_weights/<layer>/<layer>/moving_mean:0``).

Keras 3 stores a BN layer's variables as ``layers/batch_normalization[_k]/vars/0..3`` — named after
the class, in the order gamma, beta, moving_mean, moving_variance, where gamma is absent when
``scale=False`` and beta when ``center=False``. The moving statistics are therefore always the last
two; config.json says which of the first ones exist and gives the user's layer names.
"""
from __future__ import annotations

import json
import re
import zipfile

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.tensors import Checkpoint, KnownBN, TensorRef

_BN_GROUP = re.compile(r"^(sync_)?batch_normalization(_\d+)?$")
MAX_CONFIG = 64 * 1024 * 1024


def read_keras_zip(path: str, zf: zipfile.ZipFile) -> Checkpoint:
    import h5py

    configs = []
    if "config.json" in zf.namelist():
        if zf.getinfo("config.json").file_size > MAX_CONFIG:
            raise CheckpointError("config.json is implausibly large (corrupted?)")
        try:
            configs = bn_configs(json.loads(zf.read("config.json")))
        except (ValueError, UnicodeDecodeError):
            raise CheckpointError("config.json is not valid JSON (corrupted?)") from None
    # h5py reads the weights straight out of the archive entry; reopened so it outlives `zf`
    archive = zipfile.ZipFile(path)
    h5 = h5py.File(archive.open("model.weights.h5"), "r")
    ckpt = Checkpoint(path=path, format="keras", framework="keras", resources=[archive, h5])
    _read_keras3(h5, ckpt, configs)
    return ckpt


def read_h5(path: str) -> Checkpoint:
    import h5py

    h5 = h5py.File(path, "r")
    if "layers" in h5 and isinstance(h5["layers"], h5py.Group):
        ckpt = Checkpoint(path=path, format="keras-weights-h5", framework="keras", resources=[h5])
        _read_keras3(h5, ckpt, [])
        return ckpt
    ckpt = Checkpoint(path=path, format="keras-legacy-h5", framework="keras", resources=[h5])
    root = h5["model_weights"] if "model_weights" in h5 else h5
    if "model_config" in h5.attrs:
        try:
            raw = h5.attrs["model_config"]
            cfg = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            ckpt.notes.extend(_frozen_notes(bn_configs(cfg)))
        except (ValueError, UnicodeDecodeError, TypeError):
            pass
    for name, ds in _datasets(root, h5py):
        ckpt.tensors[name] = _ref(name, ds)
    return ckpt


def bn_configs(config) -> list[dict]:
    """Every BatchNormalization layer config in model order, nested models included."""
    found: list[dict] = []

    def walk(node, depth=0):
        if depth > 200:
            return
        if isinstance(node, dict):
            cls = node.get("class_name")
            if isinstance(cls, str) and cls.endswith("BatchNormalization") and isinstance(node.get("config"), dict):
                found.append(node["config"])
                return
            for v in node.values():
                walk(v, depth + 1)
        elif isinstance(node, list):
            for v in node:
                walk(v, depth + 1)

    walk(config)
    return found


def _natural(path: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


def _read_keras3(h5, ckpt: Checkpoint, configs: list[dict]) -> None:
    import h5py

    groups = []
    for name, obj in _groups(h5, h5py):
        if _BN_GROUP.match(name.rsplit("/", 1)[-1]) and "vars" in obj:
            groups.append((name, obj["vars"]))
    groups.sort(key=lambda g: _natural(g[0]))
    for name, ds in _datasets(h5, h5py):
        ckpt.tensors[name] = _ref(name, ds)
    matched = len(configs) == len(groups)
    if configs and not matched:
        ckpt.notes.append(f"config.json lists {len(configs)} BN layers but the weights hold {len(groups)}; "
                          "using the weight file's names")
    known = []
    for i, (gname, vars_group) in enumerate(groups):
        keys = sorted((k for k in vars_group.keys() if k.isdigit()), key=int)
        refs = [ckpt.tensors[f"{vars_group.name.lstrip('/')}/{k}"] for k in keys]
        cfg = configs[i] if matched else {}
        known.append(_known_from_vars(cfg.get("name", gname), refs, cfg))
    ckpt.known_bn = known


def _known_from_vars(name: str, refs: list[TensorRef], cfg: dict) -> KnownBN:
    if len(refs) < 2:
        return KnownBN(name, None, None, note="no moving statistics stored")
    mean, var = refs[-2], refs[-1]
    affine = refs[:-2]
    scale = offset = None
    if len(affine) == 2:
        scale, offset = affine
    elif len(affine) == 1:
        if cfg.get("scale", True) is False:
            offset = affine[0]
        else:
            scale = affine[0]
    note = "trainable=False (frozen: runs in inference mode)" if cfg.get("trainable") is False else ""
    return KnownBN(name, mean, var, scale, offset, note=note)


def _frozen_notes(configs: list[dict]) -> list[str]:
    return [f"{c.get('name')}: trainable=False" for c in configs if c.get("trainable") is False]


def _groups(root, h5py, prefix=""):
    stack = [(prefix, root, 0)]
    while stack:
        base, group, depth = stack.pop()
        if depth > 64:
            raise CheckpointError("HDF5 groups nested too deeply (corrupted?)")
        for key in group.keys():
            obj = group.get(key)
            if isinstance(obj, h5py.Group):
                path = f"{base}/{key}" if base else key
                yield path, obj
                stack.append((path, obj, depth + 1))


def _datasets(root, h5py):
    for key, obj in [("", root)] + list(_groups(root, h5py)):
        for k in obj.keys():
            ds = obj.get(k)
            if isinstance(ds, h5py.Dataset):
                yield (f"{key}/{k}" if key else k), ds


def _ref(name: str, ds) -> TensorRef:
    shape = tuple(int(d) for d in (ds.shape or ()))
    return TensorRef(name, shape, ds.dtype.name, lambda: ds[()])
