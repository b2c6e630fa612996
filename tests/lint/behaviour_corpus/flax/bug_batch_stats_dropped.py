"""Flax training step that computes the new batch_stats and throws them away."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

from flax.training import train_state  # noqa: E402


class CNN(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Conv(4, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(2)(x)


class TrainState(train_state.TrainState):
    batch_stats: dict


def create_state(rng):
    model = CNN()
    variables = model.init(rng, jnp.ones((1, 6, 6, 1)), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                             batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, _ = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images, train=True,
                                   mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    grads = jax.grad(loss_fn)(state.params)
    return state.apply_gradients(grads=grads)


if __name__ == "__main__":
    state = create_state(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    start = state.batch_stats["BatchNorm_0"]["mean"]
    for _ in range(3):
        state = train_step(state, rng.normal(1, 1, (8, 6, 6, 1)), rng.integers(0, 2, 8))
    frozen = np.allclose(start, state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
