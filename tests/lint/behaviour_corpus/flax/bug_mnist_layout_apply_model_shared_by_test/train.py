"""Training and evaluation logic (flax examples/mnist layout, with batch norm added)."""
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training import train_state

from models import CNN


class TrainState(train_state.TrainState):
    batch_stats: Any


@jax.jit
def apply_model(state, images, labels):
    """Computes gradients, loss, accuracy and the new batch statistics for a single batch."""

    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                         train=True, mutable=["batch_stats"])
        one_hot = jax.nn.one_hot(labels, 4)
        loss = jnp.mean(optax.softmax_cross_entropy(logits=logits, labels=one_hot))
        return loss, (logits, updates["batch_stats"])

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
    (loss, (logits, batch_stats)), grads = grad_fn(state.params)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == labels)
    return grads, batch_stats, loss, accuracy, logits


@jax.jit
def update_model(state, grads, batch_stats):
    return state.apply_gradients(grads=grads).replace(batch_stats=batch_stats)


def train_epoch(state, train_ds, batch_size, rng):
    n = len(train_ds["image"])
    perms = jax.random.permutation(rng, n)[: (n // batch_size) * batch_size].reshape((-1, batch_size))
    epoch_loss, epoch_accuracy = [], []
    for perm in perms:
        grads, batch_stats, loss, accuracy, _ = apply_model(state, train_ds["image"][perm],
                                                            train_ds["label"][perm])
        state = update_model(state, grads, batch_stats)
        epoch_loss.append(loss)
        epoch_accuracy.append(accuracy)
    return state, float(np.mean(epoch_loss)), float(np.mean(epoch_accuracy))


def create_train_state(rng, config):
    cnn = CNN()
    variables = cnn.init(rng, jnp.ones([1, 8, 8, 1]), train=False)
    tx = optax.sgd(config["learning_rate"], config["momentum"])
    return TrainState.create(apply_fn=cnn.apply, params=variables["params"], tx=tx,
                             batch_stats=variables["batch_stats"])


def train_and_evaluate(config, train_ds, test_ds):
    rng = jax.random.key(0)
    rng, init_rng = jax.random.split(rng)
    state = create_train_state(init_rng, config)
    for epoch in range(1, config["num_epochs"] + 1):
        rng, input_rng = jax.random.split(rng)
        state, train_loss, train_accuracy = train_epoch(state, train_ds, config["batch_size"], input_rng)
        _, _, test_loss, test_accuracy, test_logits = apply_model(state, test_ds["image"], test_ds["label"])
        print(f"epoch:{epoch:3}, train_loss: {train_loss:.4f}, train_accuracy: {train_accuracy * 100:.2f}, "
              f"test_loss: {float(test_loss):.4f}, test_accuracy: {float(test_accuracy) * 100:.2f}")
    return state, test_logits
