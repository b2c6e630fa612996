"""Jitted train / eval steps; the train step returns the updated batch statistics in the state."""
from typing import Any

import jax
import optax
from flax.training import train_state


class TrainState(train_state.TrainState):
    batch_stats: Any


def _loss(state, params, images, labels):
    logits, new_model_state = state.apply_fn(
        {"params": params, "batch_stats": state.batch_stats}, images, training=True, mutable=["batch_stats"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean(), new_model_state


@jax.jit
def train_step(state, images, labels):
    grad_fn = jax.value_and_grad(lambda p: _loss(state, p, images, labels), has_aux=True)
    (loss, new_model_state), grads = grad_fn(state.params)
    state = state.apply_gradients(grads=grads)
    state = state.replace(batch_stats=new_model_state["batch_stats"])
    return state, loss


@jax.jit
def eval_step(state, images):
    return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, images, training=False)
