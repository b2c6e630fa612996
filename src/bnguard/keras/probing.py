"""Run-time probe for Keras 3: one real training step, per-BN-layer verdicts, state restored.

``probe(model, step)`` snapshots every model variable (weights, moving statistics, seed-generator
states), the optimizer's variables (the optimizer is built first if it was not yet) and the
compiled metrics, runs ``step()`` while recording every call of every BN layer (the
``training`` value it was called with, its ``trainable`` flag, the batch statistics of its input
and the moving statistics before and after), restores every variable, and returns a
`ProbeReport` with the same verdicts as the PyTorch probe. Keras specifics:

* a layer with ``trainable=False`` runs in inference mode even with ``training=True`` (the
  documented fine-tuning freeze): ``frozen-expected``;
* a JAX ``stateless_call`` step that computes new moving statistics but never assigns them back
  shows train-mode calls and unchanged variables: ``frozen-no-update``.

The step runs eagerly (``tf.config.run_functions_eagerly`` on TensorFlow, ``jax.disable_jit`` on
JAX) so that every call is seen, not only the first trace; pass ``eager=False`` to run compiled
(then calls inside an already traced function are not counted, and only the before/after
comparison is used).
"""
from __future__ import annotations

import contextlib
import random
from typing import Any, Callable, Iterable

import numpy as np

from bnguard.keras.layers import bn_layers, layer_name, read_stats, to_numpy
from bnguard.probe_report import LayerObservation, ProbeReport, least_squares_fraction

__all__ = ["probe"]


def probe(model, step: Callable[[], Any], *, optimizer: Any = None,
          eval_step: Callable[[], Any] | None = None, expect_frozen: Iterable[Any] = (),
          eager: bool = True) -> ProbeReport:
    """Run ``step()`` once, report per BN layer what happened, and restore every variable.

    ``step`` is your zero-argument training iteration (``model.train_on_batch(x, y)``, a custom
    ``GradientTape`` step, a JAX ``stateless_call`` step that assigns the results back...).
    ``optimizer`` defaults to ``model.optimizer``. ``eval_step`` (optional) is one validation
    iteration; stats that move there are ``contaminated``. ``expect_frozen`` lists layers or
    layer names/paths you freeze on purpose.
    """
    import keras

    if not isinstance(model, keras.layers.Layer):
        raise TypeError(f"probe() needs a Keras model or layer, got {type(model).__name__}")
    if not callable(step):
        raise TypeError("probe() needs step: a zero-argument callable running one training step")
    optimizer = optimizer if optimizer is not None else getattr(model, "optimizer", None)
    layers = bn_layers(model)
    observations = [_observation(layer, expect_frozen) for layer in layers]
    for obs in observations:
        obs.calls_observed = eager
    snapshot = _Snapshot.take(model, optimizer)
    before = [read_stats(layer) for layer in layers]
    try:
        output = _run_recorded(step, layers, observations, "train", eager)
        for layer, obs, old in zip(layers, observations, before):
            new = read_stats(layer)
            obs.changed = not _same(old, new)
            obs.nonfinite = not all(np.isfinite(a).all() for a in new)
        snapshot.restore()
        if eval_step is not None:
            _run_recorded(eval_step, layers, observations, "eval", eager)
            for layer, obs, old in zip(layers, observations, before):
                obs.eval_changed = not _same(old, read_stats(layer))
    finally:
        snapshot.restore()
    meta = {"restored": True, "eval_step": eval_step is not None, "backend": keras.backend.backend()}
    return ProbeReport.build(observations, framework="keras", meta=meta, step_output=output)


def _observation(layer, expect_frozen) -> LayerObservation:
    obs = LayerObservation(layer_name(layer))
    momentum = getattr(layer, "momentum", None)
    if isinstance(momentum, (int, float)):
        obs.configured_fraction = 1.0 - float(momentum)  # Keras: new = m * old + (1 - m) * batch
    names = {layer.name, layer_name(layer)}
    for item in expect_frozen:
        if item is layer or (isinstance(item, str) and (item in names or obs.name.startswith(item + "/"))):
            obs.expected_frozen, obs.expected_reason = True, "expect_frozen"
    if not layer.trainable and not obs.expected_frozen:
        obs.expected_frozen = True
        obs.expected_reason = "trainable=False: Keras runs the layer in inference mode"
    return obs


def _same(a, b) -> bool:
    return all(np.array_equal(x, y, equal_nan=True) for x, y in zip(a, b))


@contextlib.contextmanager
def _eager(enabled: bool):
    """Run tf.function / jax.jit code eagerly so that every layer call reaches Python."""
    import keras

    if not enabled:
        yield
        return
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        previous = tf.config.functions_run_eagerly()
        tf.config.run_functions_eagerly(True)
        try:
            yield
        finally:
            tf.config.run_functions_eagerly(previous)
    elif backend == "jax":
        import jax

        with jax.disable_jit():
            yield
    else:
        yield


def _run_recorded(fn, layers, observations, phase: str, eager: bool):
    originals = []
    try:
        for layer, obs in zip(layers, observations):
            originals.append((layer, type(layer)))
            layer.__class__ = _recording_class(type(layer), obs, phase)
        with _eager(eager):
            return fn()
    finally:
        for layer, cls in originals:
            layer.__class__ = cls


def _recording_class(cls, obs: LayerObservation, phase: str):
    """A subclass of the layer's class whose ``call`` records what happens (swapped in, then out)."""

    def call(self, inputs, *args, **kwargs):
        training = kwargs.get("training", args[0] if args else None)
        train_mode = bool(training) and bool(self.trainable)
        if phase == "eval":
            obs.eval_train_calls += int(train_mode)
            return cls.call(self, inputs, *args, **kwargs)
        obs.calls += 1
        obs.train_calls += int(train_mode)
        old = _try(read_stats, self) if train_mode else None
        batch = _batch_stats(self, inputs) if train_mode else None
        out = cls.call(self, inputs, *args, **kwargs)
        new = _try(read_stats, self) if old is not None else None
        if old is not None and new is not None:
            if not _same(old, new):
                obs.updating_calls += 1
                if batch is not None:
                    f = least_squares_fraction(np.concatenate([n - o for n, o in zip(new, old)]),
                                               np.concatenate([b - o for b, o in zip(batch, old)]))
                    obs.fractions.append(float("nan") if f is None else f)
        return out

    return type(cls.__name__, (cls,), {"call": call, "__module__": cls.__module__})


def _batch_stats(layer, inputs):
    """Per-channel mean and biased variance of the input (Keras' moving-variance convention)."""
    x = _try(to_numpy, inputs)
    if x is None:  # symbolic (traced) inputs: not measurable
        return None
    axis = getattr(layer, "axis", -1)
    axis = axis if isinstance(axis, int) else axis[0]
    flat = np.moveaxis(x, axis, 0).reshape(x.shape[axis], -1)
    if flat.shape[1] < 2:
        return None
    return flat.mean(axis=1), flat.var(axis=1)


def _try(fn, arg):
    """``fn(arg)``, or None when the value is symbolic (compiled run: not measurable per call)."""
    try:
        return fn(arg)
    except ValueError:
        return None


class _Snapshot:
    """Values of every model, optimizer and metric variable plus Python/NumPy RNG states."""

    def __init__(self, variables, rng):
        self.variables, self.rng = variables, rng

    @classmethod
    def take(cls, model, optimizer):
        import keras

        if optimizer is not None and not getattr(optimizer, "built", True):
            optimizer.build(model.trainable_variables)  # so that its variables exist to snapshot
        variables = list(model.variables)
        variables += list(getattr(model, "metrics_variables", []) or [])
        if optimizer is not None:
            variables += list(optimizer.variables)
        try:  # the global generator behind keras.random calls without an explicit seed
            from keras.src.random.seed_generator import global_seed_generator

            variables += list(global_seed_generator().variables)
        except Exception:
            pass
        unique = list({id(v): v for v in variables}.values())
        saved = [(v, np.array(keras.ops.convert_to_numpy(v.value), copy=True)) for v in unique]
        return cls(saved, (random.getstate(), np.random.get_state()))

    def restore(self) -> None:
        for v, value in self.variables:
            v.assign(value)
        random.setstate(self.rng[0])
        np.random.set_state(self.rng[1])
