"""Train step calls new_state.replace(batch_stats=...) but discards the result: TrainState is an
immutable dataclass, so the returned state still carries the initial statistics."""
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


class MLP(nn.Module):
    hidden: int = 16

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(1)(nn.relu(x))


def create_train_state(rng, learning_rate=1e-2):
    model = MLP()
    variables = model.init(rng, jnp.ones((1, 4)), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(learning_rate),
                             batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        preds, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                        mutable=["batch_stats"])
        return jnp.mean((preds - y) ** 2), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    new_state = state.apply_gradients(grads=grads)
    new_state.replace(batch_stats=updates["batch_stats"])
    return new_state, loss


if __name__ == "__main__":
    state = create_train_state(jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    for epoch in range(3):
        state, loss = train_step(state, rng.normal(2, 1, (16, 4)), rng.normal(size=(16, 1)))
    frozen = np.allclose(state.batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
