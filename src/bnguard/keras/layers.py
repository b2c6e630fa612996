"""Finding Keras 3 BN layers and reading their moving statistics as float64 numpy arrays."""
from __future__ import annotations

import numpy as np

__all__ = ["bn_layers", "layer_name", "read_stats", "to_numpy"]


def _is_bn_like(layer) -> bool:
    import keras

    if isinstance(layer, keras.layers.BatchNormalization):
        return True
    # custom BN layers that keep Keras-style moving statistics
    return all(hasattr(getattr(layer, a, None), "assign") for a in ("moving_mean", "moving_variance"))


def bn_layers(model) -> list:
    """Every BN-like layer of a Keras model, nested models and layers included, each once, in order."""
    out, seen, stack = [], set(), [model]
    while stack:
        layer = stack.pop()
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        if layer is not model and _is_bn_like(layer):
            out.append(layer)
        children = getattr(layer, "_layers", None) or getattr(layer, "layers", None) or []
        try:
            stack.extend(reversed(list(children)))
        except TypeError:
            pass
    return out


def layer_name(layer) -> str:
    return str(getattr(layer, "path", None) or layer.name)


def read_stats(layer) -> tuple[np.ndarray, np.ndarray]:
    """(moving_mean, moving_variance) as float64 copies (inside a JAX stateless scope: its values)."""
    return (to_numpy(layer.moving_mean.value), to_numpy(layer.moving_variance.value))


def to_numpy(value) -> np.ndarray:
    """A float64 numpy copy of a tensor; under ``jax.grad`` (run eagerly) the tracer's primal value.

    Raises ``ValueError`` for a symbolic value that has no concrete number yet (a jit trace).
    """
    import keras

    for _ in range(16):  # JVP/linearize tracers nest one per differentiation level
        primal = getattr(value, "primal", None)
        if primal is None:
            break
        value = primal
    try:
        return np.array(keras.ops.convert_to_numpy(value), dtype=np.float64)
    except Exception as exc:  # a tracer inside jit, a symbolic TF tensor
        raise ValueError("symbolic value") from exc
