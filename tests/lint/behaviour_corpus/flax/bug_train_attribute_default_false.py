"""Module attribute `train: bool = False`; the TrainState is built from Net().apply, so BN never trains."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class Net(nn.Module):
    train: bool = False

    @nn.compact
    def __call__(self, x):
        x = nn.Conv(4, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not self.train)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(3)(x)


class TrainState(train_state.TrainState):
    batch_stats: dict


def create_train_state(key):
    net = Net()
    variables = net.init(key, jnp.ones((1, 8, 8, 1)))
    return TrainState.create(apply_fn=net.apply, params=variables["params"], tx=optax.sgd(0.05),
                             batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                         mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"]), loss


if __name__ == "__main__":
    state = create_train_state(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    for _ in range(4):
        state, loss = train_step(state, rng.normal(1, 1, (8, 8, 8, 1)), rng.integers(0, 3, 8))
    frozen = np.allclose(state.batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
