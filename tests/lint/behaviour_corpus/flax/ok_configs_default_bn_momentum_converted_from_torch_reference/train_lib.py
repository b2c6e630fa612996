"""create_train_state / train_step / eval_step / train_and_evaluate."""
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

import models


class TrainState(train_state.TrainState):
    batch_stats: Any


def create_train_state(rng, config, model):
    variables = model.init(rng, jnp.ones((1, 8, 8, 3)), train=False)
    tx = optax.sgd(config.learning_rate, momentum=config.momentum)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=tx,
                             batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, new_model_state = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                                 train=True, mutable=["batch_stats"])
        one_hot = jax.nn.one_hot(labels, logits.shape[-1])
        return optax.softmax_cross_entropy(logits, one_hot).mean(), new_model_state

    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=new_model_state["batch_stats"])
    return state, loss


@jax.jit
def eval_step(state, images):
    return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, images, train=False)


def input_pipeline(config, rng):
    for step in range(config.steps_per_epoch):
        scale = 1.0 + 0.5 * (step % 3)
        images = rng.normal(0.0, scale, (config.batch_size, 8, 8, 3)).astype(np.float32)
        images += rng.normal(0.0, 2.0)  # per-batch brightness shift
        yield images, rng.integers(0, config.num_classes, config.batch_size)


def train_and_evaluate(config):
    model = models.create_model(config)
    state = create_train_state(jax.random.PRNGKey(config.seed), config, model)
    rng = np.random.default_rng(config.seed)
    for epoch in range(config.num_epochs):
        for images, labels in input_pipeline(config, rng):
            state, loss = train_step(state, images, labels)
        print(f"epoch {epoch} loss {float(loss):.4f}")
    return model, state
