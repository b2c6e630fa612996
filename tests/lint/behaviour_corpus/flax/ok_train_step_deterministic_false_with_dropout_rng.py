"""MLP classifier whose __call__ takes one `deterministic` flag that drives both Dropout and
BatchNorm (use_running_average=deterministic). The train step passes deterministic=False with a
per-step dropout key in rngs={'dropout': ...}, so BatchNorm uses batch statistics while training
and the batch_stats written back from mutable=['batch_stats'] follow the data."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class MLP(nn.Module):
    hidden: int = 16
    n_classes: int = 4
    dropout_rate: float = 0.2

    @nn.compact
    def __call__(self, x, deterministic: bool):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=deterministic, momentum=0.9)(x)
        x = nn.relu(x)
        x = nn.Dropout(self.dropout_rate, deterministic=deterministic)(x)
        return nn.Dense(self.n_classes)(x)


class State(train_state.TrainState):
    batch_stats: dict


@jax.jit
def train_step(state, x, y, key):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x,
                                         deterministic=False, mutable=["batch_stats"],
                                         rngs={"dropout": key})
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    return state.replace(batch_stats=updates["batch_stats"]), loss


def main(steps=5):
    data = np.random.default_rng(0)
    model = MLP()
    key = jax.random.PRNGKey(0)
    variables = model.init(key, jnp.ones((2, 6)), deterministic=True)
    state = State.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                         batch_stats=variables["batch_stats"])
    init_mean = np.asarray(variables["batch_stats"]["BatchNorm_0"]["mean"])
    for _ in range(steps):
        key, step_key = jax.random.split(key)
        x = data.normal(1.5, 2.0, (16, 6)).astype("float32")
        y = data.integers(0, 4, 16)
        state, loss = train_step(state, x, y, step_key)
    mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, init_mean) else "updated")


if __name__ == "__main__":
    main()
