"""Linen training with an EMA copy for evaluation: after every step the EMA's "params" are blended
with optax.incremental_update and its "batch_stats" are taken from the trained state (the
statistics belong to the live network, as timm's ModelEmaV2 copies buffers). Evaluating the EMA
model normalizes with statistics that tracked the training data."""
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
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(1)(nn.relu(x))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        pred, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                       mutable=["batch_stats"])
        return jnp.mean((pred - y) ** 2), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads).replace(batch_stats=updates["batch_stats"]), loss


@jax.jit
def update_ema(ema_variables, state, decay=0.9):
    new_params = optax.incremental_update(state.params, ema_variables["params"], step_size=1 - decay)
    return {"params": new_params, "batch_stats": state.batch_stats}


def evaluate(model, variables, x, y):
    return float(jnp.mean((model.apply(variables, x, train=False) - y) ** 2))


def main(steps=4):
    model = MLP()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 4)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    ema_variables = variables
    rng = np.random.default_rng(0)
    for step in range(steps):
        state, loss = train_step(state, rng.normal(3, 1, (16, 4)), rng.normal(size=(16, 1)))
        ema_variables = update_ema(ema_variables, state)
    print("ema eval loss", evaluate(model, ema_variables, rng.normal(3, 1, (16, 4)), rng.normal(size=(16, 1))))
    ema_mean = ema_variables["batch_stats"]["BatchNorm_0"]["mean"]
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(ema_mean, 0) else "updated")


if __name__ == "__main__":
    main()
