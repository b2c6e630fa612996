"""Linen model passes use_running_average=train (inverted): the training step runs BN on its running
averages (statistics never move from 0/1) and evaluation would use batch statistics."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: dict


class TabularNet(nn.Module):
    hidden: int = 16

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=train, momentum=0.9, name="bn")(x)
        x = nn.relu(x)
        return nn.Dense(1)(x)


def create_state(rng, features=5):
    model = TabularNet()
    variables = model.init(rng, jnp.ones((2, features)), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                             batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        preds, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                        mutable=["batch_stats"])
        return jnp.mean((preds - y) ** 2), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"])
    return state, loss


if __name__ == "__main__":
    state = create_state(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    for _ in range(3):
        state, _ = train_step(state, rng.normal(2, 1, (16, 5)), rng.normal(size=(16, 1)))
    frozen = np.allclose(state.batch_stats["bn"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
