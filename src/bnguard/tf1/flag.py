"""What a BN layer's training flag evaluates to in a given ``session.run``.

The flag is the predicate of the ``Switch`` (control flow v1) or ``If``/``StatelessIf`` (v2) that
gates the update. It is evaluated here without running the graph: constants, placeholders (fed or
not), ``placeholder_with_default`` and simple logic. Anything else is "unknown", unless a session is
given and the flag's inputs are side-effect free, in which case the session evaluates it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNKNOWN = object()

_FORWARD = frozenset({"Identity", "Snapshot", "StopGradient", "Squeeze", "Reshape", "ExpandDims"})
_COMPARE = {
    "Equal": np.equal, "NotEqual": np.not_equal, "Less": np.less, "LessEqual": np.less_equal,
    "Greater": np.greater, "GreaterEqual": np.greater_equal,
    "LogicalAnd": np.logical_and, "LogicalOr": np.logical_or,
}
_SAFE_STATEFUL = frozenset({"ReadVariableOp", "VarHandleOp", "VariableV2", "Placeholder", "PlaceholderWithDefault"})


@dataclass
class FlagValue:
    """The flag's value (True/False/None for unknown) and the leaves that decided it."""

    tensor: object
    value: bool | None
    constants: list = field(default_factory=list)  # Const ops
    fed: list = field(default_factory=list)  # placeholders taken from feed_dict
    defaults: list = field(default_factory=list)  # placeholder_with_default ops not fed
    unfed: list = field(default_factory=list)  # plain placeholders not fed
    other: list = field(default_factory=list)  # ops the static evaluator does not model

    @property
    def name(self) -> str:
        """The user-facing name of the flag: its placeholder when there is one."""
        for group in (self.fed, self.defaults, self.unfed, self.constants):
            if group:
                return group[0].name
        return self.tensor.name


def normalize_feed(graph, feed_dict) -> dict:
    """``{tensor: value}`` for a ``session.run`` feed_dict (keys may be tensors or names)."""
    out = {}
    for key, value in (feed_dict or {}).items():
        tensor = key
        if isinstance(key, str):
            try:
                tensor = graph.as_graph_element(key, allow_tensor=True, allow_operation=False)
            except (KeyError, ValueError, TypeError):
                continue
        if hasattr(tensor, "op") and getattr(tensor, "graph", None) is graph:
            out[tensor] = value
    return out


def evaluate_flag(tensor, feeds: dict, session=None, feed_dict=None) -> FlagValue:
    result = FlagValue(tensor=tensor, value=None)
    value = _eval(tensor, feeds, result, 0)
    if value is UNKNOWN and session is not None and not result.unfed and _side_effect_free(tensor):
        try:
            value = session.run(tensor, feed_dict=feed_dict)
        except Exception:  # the flag cannot be computed from this feed: leave it unknown
            value = UNKNOWN
    if value is not UNKNOWN:
        arr = np.asarray(value)
        if arr.size == 1:
            result.value = bool(arr.reshape(()))
    return result


def _eval(tensor, feeds, result: FlagValue, depth: int):
    if depth > 32:
        return UNKNOWN
    if tensor in feeds:
        result.fed.append(tensor.op)
        return np.asarray(feeds[tensor])
    op = tensor.op
    t = op.type
    if t == "Const":
        result.constants.append(op)
        from tensorflow.python.framework import tensor_util

        return tensor_util.MakeNdarray(op.get_attr("value"))
    if t == "Placeholder":
        result.unfed.append(op)
        return UNKNOWN
    if t == "PlaceholderWithDefault":
        result.defaults.append(op)
        return _eval(op.inputs[0], feeds, result, depth + 1)
    if t in _FORWARD or (t in ("Switch", "RefSwitch") and tensor.value_index == 1):
        return _eval(op.inputs[0], feeds, result, depth + 1)
    if t == "LogicalNot":
        v = _eval(op.inputs[0], feeds, result, depth + 1)
        return UNKNOWN if v is UNKNOWN else np.logical_not(v)
    if t == "Cast":
        v = _eval(op.inputs[0], feeds, result, depth + 1)
        return UNKNOWN if v is UNKNOWN else np.asarray(v).astype(bool)
    if t in _COMPARE:
        a = _eval(op.inputs[0], feeds, result, depth + 1)
        b = _eval(op.inputs[1], feeds, result, depth + 1)
        return UNKNOWN if a is UNKNOWN or b is UNKNOWN else _COMPARE[t](a, b)
    result.other.append(op)
    return UNKNOWN


def _side_effect_free(tensor) -> bool:
    """True when computing ``tensor`` only reads: no iterator, queue, random or assign op upstream."""
    from bnguard.tf1.graph_index import ancestors

    for op in ancestors([tensor.op]):
        if op.type in _SAFE_STATEFUL:
            continue
        try:
            if op.op_def.is_stateful:
                return False
        except Exception:
            return False
    return True
