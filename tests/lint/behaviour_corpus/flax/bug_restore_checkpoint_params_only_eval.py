"""Train / save / reload-for-evaluation script with flax.serialization: the training run writes the
whole TrainState (params, batch_stats, opt_state, step) as msgpack bytes; the evaluation entry point
builds a fresh state from model.init and restores only the params sub-tree from the raw
checkpoint dict (the opt_state layout differs between optimizers, so it restores piecewise). Its
batch_stats stay the initial zeros/ones, and the reported test accuracy uses them."""
import os
import tempfile
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import serialization  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: Any = None


class MLP(nn.Module):
    hidden: int = 16

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
        return nn.Dense(1)(nn.relu(x)).squeeze(-1)


def create_state(seed=0, lr=1e-2):
    model = MLP()
    variables = model.init(jax.random.PRNGKey(seed), jnp.ones((1, 5)))
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             batch_stats=variables["batch_stats"], tx=optax.adam(lr))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        pred, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x,
                                       train=True, mutable=["batch_stats"])
        return jnp.mean((pred - y) ** 2), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"]), loss


@jax.jit
def predict(state, x):
    return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, train=False)


def train(ckpt_path):
    state = create_state()
    rng = np.random.default_rng(0)
    for step in range(12):
        x = jnp.asarray(rng.normal(3.0, 2.0, (16, 5)), jnp.float32)
        state, loss = train_step(state, x, x.sum(-1))
    print(f"final train loss {float(loss):.3f}")
    with open(ckpt_path, "wb") as f:
        f.write(serialization.to_bytes(state))


def evaluate(ckpt_path):
    target = create_state(seed=1)
    with open(ckpt_path, "rb") as f:
        raw = serialization.msgpack_restore(f.read())
    state = target.replace(params=serialization.from_state_dict(target.params, raw["params"]))
    x = jnp.asarray(np.random.default_rng(1).normal(3.0, 2.0, (32, 5)), jnp.float32)
    print(f"test mse {float(jnp.mean((predict(state, x) - x.sum(-1)) ** 2)):.3f}")
    return state


def main():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "checkpoint.msgpack")
        train(path)
        state = evaluate(path)
    mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "init-stats-at-eval" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
