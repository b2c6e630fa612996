"""Flax linen classifier: an Encoder submodule configured by dataclass fields (features, train) and
a Classifier whose __call__(x, train) drives dropout; one jitted forward with the train flag as a
static argument serves the train step and the evaluation."""
import functools
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class Encoder(nn.Module):
    features: int = 16
    train: bool = False

    @nn.compact
    def __call__(self, x):
        x = nn.Dense(self.features)(x)
        x = nn.BatchNorm(use_running_average=not self.train, momentum=0.9)(x)
        return nn.relu(x)


class Classifier(nn.Module):
    hidden: int = 16
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = Encoder(features=self.hidden, train=train, name="encoder")(x)
        x = nn.Dropout(0.1, deterministic=not train)(x)
        return nn.Dense(self.num_classes)(x)


class TrainState(train_state.TrainState):
    batch_stats: dict


@functools.partial(jax.jit, static_argnums=(3,))
def forward(state, params, x, train):
    variables = {"params": params, "batch_stats": state.batch_stats}
    if train:
        return state.apply_fn(variables, x, train=True, mutable=["batch_stats"],
                              rngs={"dropout": jax.random.fold_in(jax.random.PRNGKey(1), state.step)})
    return state.apply_fn(variables, x, train=False), {"batch_stats": state.batch_stats}


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, updates = forward(state, params, x, True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"])
    return state, loss


if __name__ == "__main__":
    model = Classifier()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 5)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    init_mean = np.asarray(state.batch_stats["encoder"]["BatchNorm_0"]["mean"])
    for step in range(4):
        x = jnp.asarray(rng.normal(2.0, 1.0, (16, 5)), jnp.float32)
        state, loss = train_step(state, x, jnp.asarray(rng.integers(0, 3, 16)))
    logits, _ = forward(state, state.params, jnp.asarray(rng.normal(2.0, 1.0, (8, 5)), jnp.float32), False)
    trained_mean = np.asarray(state.batch_stats["encoder"]["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(init_mean, trained_mean) else "updated")
