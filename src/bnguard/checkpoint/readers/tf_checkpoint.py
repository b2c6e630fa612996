"""TensorFlow checkpoints: ``<prefix>.index`` + ``<prefix>.data-*`` (TF1 Saver, tf.train.Checkpoint,
SavedModel variables), read with `tf.train.load_checkpoint` — TensorFlow is imported only here.

When ``<prefix>.meta`` exists (TF1 Saver), the saved graph is imported into a fresh graph and, if
`bnguard.tf1.check_graph` is available, checked offline: are the BN update ops ancestors of the
train op?
"""
from __future__ import annotations

import os
import re
import warnings

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.tensors import Checkpoint, TensorRef

_STEP_KEYS = ("global_step", "step")


def latest_prefix(folder: str) -> str:
    state = os.path.join(folder, "checkpoint")
    if os.path.exists(state):
        with open(state, errors="replace") as f:
            m = re.search(r'^model_checkpoint_path:\s*"(.+)"', f.read(65536), re.M)
        if m:
            p = m.group(1)
            return p if os.path.isabs(p) else os.path.join(folder, p)
    indexes = sorted(e for e in os.listdir(folder) if e.endswith(".index"))
    if not indexes:
        raise CheckpointError("a TF checkpoint folder without any .index file")
    return os.path.join(folder, indexes[-1][: -len(".index")])


def read(prefix: str) -> Checkpoint:
    if not os.path.exists(prefix + ".index"):
        raise CheckpointError(f"{prefix}.index is missing")
    if os.path.getsize(prefix + ".index") == 0:
        raise CheckpointError("the .index file is empty (0 bytes)")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as exc:  # tf raises DataLossError/NotFoundError/...: a damaged checkpoint
        raise CheckpointError(f"unreadable TF checkpoint ({type(exc).__name__}: "
                              f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''})") from None
    ckpt = Checkpoint(path=prefix, format="tf-checkpoint", framework="tf")
    for name, shape in shapes.items():
        if name == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        dtype = dtypes[name]
        if dtype == tf.string:
            continue
        ckpt.tensors[name] = TensorRef(name, tuple(int(d) for d in shape), dtype.name,
                                       _loader(reader, name))
    for key in _STEP_KEYS:
        if key in shapes and not shapes[key]:
            ckpt.scalars[key.split("/")[0]] = int(reader.get_tensor(key))
            break
    if any(n.endswith(".ATTRIBUTES/VARIABLE_VALUE") for n in ckpt.tensors):
        ckpt.framework = "keras"
    meta = prefix + ".meta"
    if os.path.exists(meta):
        ckpt.graph_report = _check_meta_graph(meta, ckpt)
    return ckpt


def _loader(reader, name):
    def load():
        try:
            return reader.get_tensor(name)
        except Exception as exc:
            raise CheckpointError(f"cannot read {name} ({type(exc).__name__}; truncated data file?)") from None
    return load


def _check_meta_graph(meta: str, ckpt: Checkpoint):
    """Run the TF1 graph check (issue 5) on the saved graph when that check is installed."""
    try:
        with warnings.catch_warnings():  # its TF1-layers warning is about building graphs, not reading one
            warnings.simplefilter("ignore")
            from bnguard.tf1 import check_graph
    except ImportError:
        ckpt.notes.append("the .meta graph was not checked (bnguard.tf1.check_graph unavailable)")
        return None
    import tensorflow as tf

    graph = tf.Graph()
    try:
        with graph.as_default():
            tf.compat.v1.train.import_meta_graph(meta, clear_devices=True)
        return check_graph(graph=graph)
    except Exception as exc:  # an unreadable or foreign graph must not hide the stats verdicts
        ckpt.notes.append(f"the .meta graph could not be checked ({type(exc).__name__})")
        return None
