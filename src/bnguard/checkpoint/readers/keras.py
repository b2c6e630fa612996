"""Keras files: ``.keras`` (zip of config.json + model.weights.h5), Keras 3 ``.weights.h5``, and
legacy tf_keras ``.h5`` (``model_weights/<layer>/<layer>/moving_mean:0``).

Keras 3 stores a BN layer's variables as ``layers/batch_normalization[_k]/vars/0..3`` — named after
the class, in the order gamma, beta, moving_mean, moving_variance, where gamma is absent when
``scale=False`` and beta when ``center=False``. The moving statistics are therefore always the last
two; config.json says which of the first ones exist and gives the user's layer names. The group
paths are rebuilt from config.json the way Keras names them (snake-cased class name, ``_k`` suffix per
container, nested models as ``layers/<model>/layers/...``); without a config, a ``vars`` group is a BN
layer when it is named like one or holds 3-4 one-dimensional variables of one length.
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

    configs: list[tuple[str, dict]] = []
    if "config.json" in zf.namelist():
        if zf.getinfo("config.json").file_size > MAX_CONFIG:
            raise CheckpointError("config.json is implausibly large (corrupted?)")
        try:
            configs = bn_config_paths(json.loads(zf.read("config.json")))
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
            ckpt.notes.extend(_frozen_notes([c for _, c in bn_config_paths(cfg)]))
        except (ValueError, UnicodeDecodeError, TypeError):
            pass
    for name, ds in _datasets(root, h5py):
        ckpt.tensors[name] = _ref(name, ds)
    return ckpt


def _snake(name: str) -> str:
    """Keras's ``naming.to_snake_case``."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def bn_config_paths(config) -> list[tuple[str, dict]]:
    """(weights-file group path, layer config) of every BatchNormalization in model order."""
    found: list[tuple[str, dict]] = []

    def container(layers: list, prefix: str, depth: int) -> None:
        used: dict[str, int] = {}
        for layer in layers:
            if depth > 32 or not isinstance(layer, dict):
                continue
            cls, cfg = layer.get("class_name"), layer.get("config")
            if not isinstance(cls, str) or not isinstance(cfg, dict):
                continue
            base = _snake(cls)
            used[base] = used.get(base, -1) + 1
            path = f"{prefix}layers/{base}" + (f"_{used[base]}" if used[base] else "")
            if cls.endswith("BatchNormalization"):
                found.append((path, cfg))
            elif isinstance(cfg.get("layers"), list):  # a nested Sequential/Functional model
                container(cfg["layers"], f"{path}/", depth + 1)

    top = config.get("config") if isinstance(config, dict) else None
    if isinstance(top, dict) and isinstance(top.get("layers"), list):
        container(top["layers"], "", 0)
    return found


def _read_keras3(h5, ckpt: Checkpoint, configs: list[tuple[str, dict]]) -> None:
    import h5py

    for name, ds in _datasets(h5, h5py):
        ckpt.tensors[name] = _ref(name, ds)
    from_config = [(cfg.get("name", path), _vars(ckpt, path), cfg) for path, cfg in configs]
    if from_config and all(refs for _, refs, _ in from_config):
        ckpt.known_bn = [_known_from_vars(name, refs, cfg) for name, refs, cfg in from_config]
        return
    if configs:
        ckpt.notes.append("config.json does not match the weight file's layout; BN layers found by structure")
    known = []
    for path, obj in _groups(h5, h5py):
        if "vars" not in obj or not isinstance(obj["vars"], h5py.Group):
            continue
        refs = _vars(ckpt, path)
        named_bn = bool(_BN_GROUP.match(path.rsplit("/", 1)[-1]))
        if named_bn or _bn_shaped(refs):
            known.append(_known_from_vars(path, refs, {}))
    known.sort(key=lambda k: _natural(k.name))
    ckpt.known_bn = known


def _vars(ckpt: Checkpoint, group_path: str) -> list[TensorRef]:
    prefix = f"{group_path}/vars/"
    keys = sorted((int(n[len(prefix):]) for n in ckpt.tensors
                   if n.startswith(prefix) and n[len(prefix):].isdigit()))
    return [ckpt.tensors[f"{prefix}{k}"] for k in keys]


def _bn_shaped(refs: list[TensorRef]) -> bool:
    """gamma?, beta?, moving_mean, moving_variance: 3 or 4 float vectors of one length."""
    return len(refs) in (3, 4) and all(len(r.shape) == 1 and r.is_float for r in refs) and \
        len({r.shape for r in refs}) == 1


def _natural(path: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path)]


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
