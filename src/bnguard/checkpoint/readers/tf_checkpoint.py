"""TensorFlow checkpoints: ``<prefix>.index`` + ``<prefix>.data-*`` (TF1 Saver, tf.train.Checkpoint,
SavedModel variables), read with `tf.train.load_checkpoint` — TensorFlow is imported only here.

When ``<prefix>.meta`` exists (TF1 Saver), the saved graph is imported into a fresh graph and, if
`bnguard.tf1.check_graph` is available, checked offline: are the BN update ops ancestors of the
train op?
"""
from __future__ import annotations

import os
import re
import sys
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
    tf = _import_tensorflow_quietly()
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as exc:  # tf raises DataLossError/NotFoundError/...: a damaged checkpoint
        raise CheckpointError(f"unreadable TF checkpoint ({type(exc).__name__}: "
                              f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''})") from None
    ckpt = Checkpoint(path=prefix, format="tf-checkpoint", framework="tf")
    names = _saved_model_variable_names(prefix, reader, shapes)
    for key, shape in shapes.items():
        if key == "_CHECKPOINTABLE_OBJECT_GRAPH":
            continue
        dtype = dtypes[key]
        if dtype == tf.string:
            continue
        name = names.get(key, key) if names else key
        if name is None:
            continue  # a second key of a variable already read under its name
        ckpt.tensors[name] = TensorRef(name, tuple(int(d) for d in shape), dtype.name,
                                       _loader(reader, key))
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


def _saved_model_variable_names(prefix: str, reader, shapes) -> dict:
    """Checkpoint key -> variable name for the variables of a SavedModel.

    A SavedModel written by Keras 3 (``model.export``) or ``tf.saved_model.save`` keys its variables
    by position (``variables/4/.ATTRIBUTES/VARIABLE_VALUE``); the names
    (``sequential/batch_normalization/moving_mean``) are in ``saved_model.pb``'s object graph, whose
    nodes are numbered like the checkpoint's own object graph. Both are plain protocol buffers:
    parsing them runs nothing. A variable saved under several keys is kept once (its other keys map
    to None). Empty when this is not a SavedModel or its graph cannot be read (keys stay as they are).
    """
    folder = os.path.dirname(os.path.dirname(prefix))
    pb = os.path.join(folder, "saved_model.pb")
    if os.path.basename(os.path.dirname(prefix)) != "variables" or not os.path.isfile(pb) \
            or "_CHECKPOINTABLE_OBJECT_GRAPH" not in shapes:
        return {}
    try:
        from tensorflow.core.protobuf import saved_model_pb2, trackable_object_graph_pb2

        saved = saved_model_pb2.SavedModel()
        with open(pb, "rb") as f:
            saved.ParseFromString(f.read())
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception:  # noqa: BLE001 - a foreign or damaged graph: fall back to the raw keys
        return {}
    if not saved.meta_graphs:
        return {}
    nodes = saved.meta_graphs[0].object_graph_def.nodes
    if len(nodes) != len(graph.nodes):
        return {}
    out: dict = {}
    seen: set = set()
    for node, tracked in zip(nodes, graph.nodes):
        if node.WhichOneof("kind") != "variable" or not node.variable.name:
            continue
        for attr in tracked.attributes:
            if attr.checkpoint_key in shapes:
                out[attr.checkpoint_key] = None if node.variable.name in seen else node.variable.name
                seen.add(node.variable.name)
    return out


def _import_tensorflow_quietly():
    """Import TensorFlow without its start-up chatter on stderr. TF 2.16+ writes its oneDNN / CUDA
    notices from C++ before ``TF_CPP_MIN_LOG_LEVEL`` takes effect, so the process's stderr is
    pointed at /dev/null for the import only; a failed import still raises as usual."""
    if "tensorflow" in sys.modules:
        import tensorflow as tf
        return tf
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded, notebook): import plainly
        import tensorflow as tf
        return tf
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow as tf
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return tf


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
