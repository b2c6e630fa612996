"""A whole epoch runs under jax.lax.scan; the scan carry is the TrainState itself, and the step
writes the mutated batch_stats back with apply_gradients(..., batch_stats=...)."""
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


class Regressor(nn.Module):
    hidden: int = 12

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(1)(nn.gelu(x))


def train_step(state, batch):
    x, y = batch

    def loss_fn(params):
        pred, mutated = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                       mutable=["batch_stats"])
        return jnp.mean((pred - y) ** 2), mutated
    (loss, mutated), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=mutated["batch_stats"])
    return state, loss


@jax.jit
def train_epoch(state, xs, ys):
    return jax.lax.scan(train_step, state, (xs, ys))


@jax.jit
def eval_loss(state, x, y):
    pred = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, train=False)
    return jnp.mean((pred - y) ** 2)


def main():
    model = Regressor()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 5)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"],
                              batch_stats=variables["batch_stats"], tx=optax.adam(1e-2))
    rng = np.random.default_rng(0)
    means = []
    for epoch in range(2):
        xs, ys = rng.normal(2, 1, (4, 16, 5)), rng.normal(size=(4, 16, 1))
        state, losses = train_epoch(state, xs, ys)
        means.append(np.asarray(state.batch_stats["BatchNorm_0"]["mean"]))
        print("epoch", epoch, float(losses[-1]), float(eval_loss(state, xs[0], ys[0])))
    updated = not np.allclose(means[0], 0.0) and not np.allclose(means[0], means[1])
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")


if __name__ == "__main__":
    main()
