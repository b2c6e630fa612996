"""Find the BN layers in a flat list of tensors, by structure.

A BN layer is a *pair* of 1-D floating tensors of the same length under one parent — one holding a
mean, one a variance — optionally with an affine pair (``weight/bias``, ``gamma/beta``,
``scale/offset``) of that length and an integer counter. Leaf names vary by framework
(``running_mean``, ``moving_mean``, ``mean``, ``popmean``...), so a leaf only has to *mention* mean or
variance; the shapes decide. Flax keeps the affine pair in a parallel ``params`` tree next to
``batch_stats``; both trees are joined here.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bnguard.checkpoint.tensors import KnownBN, TensorRef

# suffixes that wrap a variable's value without naming it (TF object checkpoints, NNX, Keras h5)
_WRAPPERS = re.compile(r"(/\.ATTRIBUTES/VARIABLE_VALUE|:\d+|[/.](value|raw_value))$")
_SPLIT = re.compile(r"[/.]")
_MEAN = re.compile(r"mean", re.I)
_VAR = re.compile(r"var(iance)?", re.I)
_COUNTER = re.compile(r"num_batches_tracked|count(er)?$|^n$", re.I)
_SCALE = ("weight", "gamma", "scale")
_OFFSET = ("bias", "beta", "offset")
_STAT_TREES = ("batch_stats", "state")


@dataclass
class BNLayer:
    name: str
    mean: TensorRef | None
    var: TensorRef | None
    scale: TensorRef | None = None
    offset: TensorRef | None = None
    counter: TensorRef | None = None
    training_mode: bool = False
    note: str = ""

    @property
    def channels(self) -> int | None:
        ref = self.mean or self.var
        return ref.shape[0] if ref is not None and ref.shape else None


def _split(name: str) -> tuple[str, str, str]:
    """(parent, leaf, separator) of a tensor name, after removing value wrappers."""
    clean = name
    while True:
        stripped = _WRAPPERS.sub("", clean)
        if stripped == clean:
            break
        clean = stripped
    m = None
    for m in _SPLIT.finditer(clean):
        pass
    if m is None:
        return "", clean, "/"
    return clean[: m.start()], clean[m.end():], m.group()


def _is_vector(ref: TensorRef) -> bool:
    return len(ref.shape) == 1 and ref.shape[0] > 0 and ref.is_float


def _is_mean_leaf(leaf: str) -> bool:
    return bool(_MEAN.search(leaf)) and not _VAR.search(leaf) and "grad" not in leaf.lower()


def _is_var_leaf(leaf: str) -> bool:
    low = leaf.lower()
    return bool(_VAR.search(leaf)) and not _MEAN.search(leaf) and "covar" not in low and "grad" not in low


def find_bn_layers(tensors: dict[str, TensorRef]) -> list[BNLayer]:
    groups: dict[str, dict[str, TensorRef]] = {}
    seps: dict[str, str] = {}
    for name, ref in tensors.items():
        parent, leaf, sep = _split(name)
        groups.setdefault(parent, {})[leaf] = ref
        seps.setdefault(parent, sep)
    layers = []
    for parent, leaves in groups.items():
        layer = _layer_from_group(parent, leaves, groups, seps.get(parent, "/"))
        if layer is not None:
            layers.append(layer)
    return layers


def _layer_from_group(parent, leaves, groups, sep) -> BNLayer | None:
    means = [k for k, r in leaves.items() if _is_mean_leaf(k) and _is_vector(r)]
    variances = [k for k, r in leaves.items() if _is_var_leaf(k) and _is_vector(r)]
    for m in means:
        for v in variances:
            if leaves[m].shape != leaves[v].shape:
                continue
            n = leaves[m].shape
            affine = _affine_siblings(parent, leaves, groups, sep, n)
            counter = next((r for k, r in leaves.items() if _COUNTER.search(k) and len(r.shape) <= 1
                            and not r.is_float), None)
            named_as_stats = m.lower() in ("running_mean", "moving_mean") or any(
                p in _STAT_TREES for p in parent.split(sep))
            # structure decides: an affine pair of the same length or a step counter confirms that
            # this mean/var pair is a BN layer's state; plain standard names are accepted as well
            if affine[0] is None and affine[1] is None and counter is None and not named_as_stats:
                continue
            return BNLayer(_display_name(parent, sep), leaves[m], leaves[v], affine[0], affine[1], counter)
    return None


def _affine_siblings(parent, leaves, groups, sep, shape):
    candidates = [leaves]
    parts = parent.split(sep) if parent else []
    for i, p in enumerate(parts):  # flax: batch_stats/<layer> <-> params/<layer>
        if p in _STAT_TREES:
            twin = sep.join(parts[:i] + ["params"] + parts[i + 1:])
            if twin in groups:
                candidates.append(groups[twin])
    scale = offset = None
    for group in candidates:
        for k, r in group.items():
            if r.shape != shape:
                continue
            low = k.lower()
            if scale is None and low in _SCALE:
                scale = r
            elif offset is None and low in _OFFSET:
                offset = r
    return scale, offset


def _display_name(parent: str, sep: str) -> str:
    parts = [p for p in parent.split(sep) if p not in _STAT_TREES] if parent else []
    if parts and parts[0] == "model_weights":
        parts = parts[1:]
    if len(parts) > 1 and parts[-1] == parts[0]:  # legacy Keras .h5: <layer>/[<model>/]<layer>/moving_mean
        return parts[0]
    collapsed = [p for i, p in enumerate(parts) if i == 0 or p != parts[i - 1]]
    return sep.join(collapsed) or parent or "(root)"


def from_known(known: list[KnownBN]) -> list[BNLayer]:
    return [BNLayer(k.name, k.mean, k.var, k.scale, k.offset, None, k.training_mode, k.note) for k in known]
