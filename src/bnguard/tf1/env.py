"""How TF1 code runs on modern TensorFlow, and a clear warning when it cannot.

TensorFlow >= 2.16 ships Keras 3. Its lazy loader routes ``tf.keras`` and ``tf.compat.v1.layers`` to
the ``tf_keras`` package only if ``TF_USE_LEGACY_KERAS`` is true when TensorFlow is first imported
(and tf_keras is installed). Setting the variable afterwards has no effect, so bnguard never sets it
behind the user's back: it warns when TensorFlow is already loaded without it.
"""
from __future__ import annotations

import importlib.util
import os
import sys
import warnings

ENV_VAR = "TF_USE_LEGACY_KERAS"
_TRUE = {"1", "true", "True", "TRUE", "yes"}
_warned = False


class LegacyKerasWarning(UserWarning):
    """TensorFlow was imported before TF_USE_LEGACY_KERAS=1: TF1 layers are unavailable."""


def legacy_keras_enabled() -> bool:
    return os.environ.get(ENV_VAR, "") in _TRUE


def check_legacy_keras_env() -> bool:
    """Warn once if TensorFlow is loaded without legacy Keras while tf_keras is installed.

    Returns True when ``tf.compat.v1.layers`` can be used (or TensorFlow is not loaded yet).
    The graph check does not need the layers; the user's TF1 model code does.
    """
    global _warned
    if "tensorflow" not in sys.modules or legacy_keras_enabled():
        return True
    if not _warned:
        _warned = True
        has_tf_keras = importlib.util.find_spec("tf_keras") is not None
        hint = "" if has_tf_keras else " and install tf_keras (pip install 'bnguard[tensorflow]')"
        warnings.warn(
            "TensorFlow was imported before TF_USE_LEGACY_KERAS=1 was set, so tf.compat.v1.layers "
            "and tf.keras are Keras 3 here and TF1 layer code (tf.compat.v1.layers.batch_normalization) "
            f"will fail. Set TF_USE_LEGACY_KERAS=1 before the first 'import tensorflow'{hint}. "
            "bnguard's graph check itself still works on any graph.",
            LegacyKerasWarning,
            stacklevel=3,
        )
    return False


def import_tf():
    """Import TensorFlow (the ``tensorflow`` extra must be installed).

    No legacy-Keras warning here: the graph check and the CLI work on any graph; the warning is
    for user code building TF1 layers and is given when ``bnguard.tf1`` is imported.
    """
    import tensorflow as tf

    return tf
