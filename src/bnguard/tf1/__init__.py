"""TF1 graph check: prove from a ``tf.Graph`` that every BN update runs with the train op.

Public API (TensorFlow is imported only when one of these is first used)::

    from bnguard.tf1 import check_graph, BNGuardHook, guard

TF1 code on TensorFlow >= 2.16 needs ``tf_keras`` and ``TF_USE_LEGACY_KERAS=1`` set *before*
TensorFlow is imported, otherwise ``tf.compat.v1.layers.batch_normalization`` raises
"not available with Keras 3". The graph check itself works on any graph; see `bnguard.tf1.env`.
"""
from __future__ import annotations

from bnguard._lazy import lazy_getattr
from bnguard.tf1.env import check_legacy_keras_env

__all__ = ["check_graph", "GraphReport", "BNGuardHook", "guard", "GuardedSession", "OK_VERDICTS"]

_LAZY = {
    "check_graph": "bnguard.tf1.graph",
    "GraphReport": "bnguard.tf1.graph",
    "OK_VERDICTS": "bnguard.tf1.graph",
    "BNGuardHook": "bnguard.tf1.hook",
    "guard": "bnguard.tf1.hook",
    "GuardedSession": "bnguard.tf1.hook",
}

check_legacy_keras_env()

__getattr__ = lazy_getattr(__name__, _LAZY)
