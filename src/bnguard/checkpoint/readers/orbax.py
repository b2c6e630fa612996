"""Orbax checkpoint folders (``StandardCheckpointer``/``PyTreeCheckpointer``; Flax linen and NNX).

Read with orbax-checkpoint when it is installed (it imports jax); arrays are restored as numpy.
"""
from __future__ import annotations

import os

from bnguard.checkpoint.errors import CheckpointError
from bnguard.checkpoint.readers.flax_msgpack import flatten
from bnguard.checkpoint.tensors import Checkpoint


def read(path: str) -> Checkpoint:
    try:
        import orbax.checkpoint as ocp
    except ImportError:
        raise CheckpointError("an Orbax checkpoint folder: install orbax-checkpoint to read it") from None
    path = os.path.abspath(path)
    try:
        with ocp.PyTreeCheckpointer() as checkpointer:
            meta = checkpointer.metadata(path)
            tree_meta = getattr(meta, "item_metadata", None) or getattr(meta, "tree", None) or meta
            restore_args = _numpy_restore_args(ocp, tree_meta)
            tree = checkpointer.restore(path, restore_args=restore_args) if restore_args is not None \
                else checkpointer.restore(path)
    except CheckpointError:
        raise
    except Exception as exc:
        detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise CheckpointError(f"unreadable Orbax checkpoint ({type(exc).__name__}: {detail})") from None
    ckpt = Checkpoint(path=path, format="orbax", framework="flax")
    flatten(_to_plain(tree), "", ckpt)
    return ckpt


def _numpy_restore_args(ocp, tree_meta):
    """Restore every array leaf as numpy (no device placement, no sharding needed)."""
    import jax
    import numpy as np

    try:
        return jax.tree_util.tree_map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), dict(tree_meta))
    except Exception:
        return None


def _to_plain(tree):
    """NNX states / FrozenDicts / State objects -> plain nested dicts."""
    if hasattr(tree, "to_pure_dict"):
        tree = tree.to_pure_dict()
    if isinstance(tree, dict) or hasattr(tree, "items"):
        return {str(k): _to_plain(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_to_plain(v) for v in tree]
    if hasattr(tree, "__array__") and not isinstance(tree, (int, float)):
        import numpy as np

        return np.asarray(tree)
    return tree
