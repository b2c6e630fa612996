"""ONNX models: a ``BatchNormalization`` node exported in training mode (``training_mode=1``, or the
extra running-mean/var outputs of a training graph) computes batch statistics at inference.
The node's mean/var initializers are judged like any saved statistics.
"""
from __future__ import annotations

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.tensors import Checkpoint, KnownBN, in_memory


def read(path: str) -> Checkpoint:
    try:
        import onnx
        from onnx import numpy_helper
    except ImportError:
        raise CheckpointError("an ONNX model: install onnx to read it") from None
    try:
        model = onnx.load(path, load_external_data=False)
    except Exception as exc:
        raise CheckpointError(f"not a readable ONNX model ({type(exc).__name__})") from None
    ckpt = Checkpoint(path=path, format="onnx", framework="onnx")
    initializers = {}
    for init in model.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            continue  # stored outside this file; not read
        try:
            initializers[init.name] = in_memory(init.name, numpy_helper.to_array(init))
        except Exception:
            raise CheckpointError(f"initializer {init.name!r} is malformed (corrupted?)") from None
    ckpt.tensors = initializers
    known = []
    for i, node in enumerate(_all_nodes(model.graph)):
        if node.op_type != "BatchNormalization":
            continue
        attrs = {a.name: a for a in node.attribute}
        flag = "training_mode" in attrs and attrs["training_mode"].i == 1
        extra_outputs = [o for o in node.output[1:] if o]
        training = flag or bool(extra_outputs)
        why = "training_mode=1" if flag else ("running mean/var outputs" if extra_outputs else "")
        mean = initializers.get(node.input[3]) if len(node.input) > 3 else None
        var = initializers.get(node.input[4]) if len(node.input) > 4 else None
        scale = initializers.get(node.input[1]) if len(node.input) > 1 else None
        offset = initializers.get(node.input[2]) if len(node.input) > 2 else None
        name = node.name or (node.input[3] if len(node.input) > 3 else f"BatchNormalization_{i}")
        known.append(KnownBN(name, mean, var, scale, offset, training_mode=training, note=why))
    ckpt.known_bn = known
    return ckpt


def _all_nodes(graph, depth: int = 0):
    """Nodes of the graph and of its subgraphs (If/Loop bodies)."""
    if depth > 32:
        return
    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.g is not None and attr.g.node:
                yield from _all_nodes(attr.g, depth + 1)
            for g in attr.graphs:
                yield from _all_nodes(g, depth + 1)
