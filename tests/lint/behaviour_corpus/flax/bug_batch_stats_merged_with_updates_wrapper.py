"""Flax linen TrainState with a batch_stats field. After the optimizer update the step "merges"
the new statistics into the old ones with `{**state.batch_stats, **updates}` -- but `updates` is
the mutated-collections dict `{"batch_stats": {...}}`, so the merge adds a nested "batch_stats"
entry and leaves every BatchNorm_* entry untouched: the model keeps normalising (and evaluating)
with the initial statistics."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from typing import Any  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: Any


class MLP(nn.Module):
    features: int = 16
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.features, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x)
        return nn.Dense(self.num_classes)(x)


@jax.jit
def train_step(state, batch):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, batch["x"],
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return loss, updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    state = state.replace(batch_stats={**state.batch_stats, **updates})
    return state, loss


def create_state(rng, model, lr):
    variables = model.init(rng, jnp.ones((1, 6)), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             batch_stats=variables["batch_stats"], tx=optax.sgd(lr, momentum=0.9))


def main():
    model = MLP()
    state = create_state(jax.random.PRNGKey(0), model, 0.05)
    data_rng = np.random.default_rng(0)
    for step in range(6):
        batch = {"x": data_rng.normal(3.0, 2.0, (16, 6)).astype("float32"), "y": data_rng.integers(0, 3, 16)}
        state, loss = train_step(state, batch)
    mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
