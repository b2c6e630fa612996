"""SGDR-style warm restarts in Flax linen: every cycle gets a fresh optimizer (new cosine schedule,
Adam moments cleared), so the loop rebuilds the TrainState at each restart with
create_train_state(rng, cfg, cycle, previous=state). The factory runs model.init for the shapes and
keeps the previous cycle's params, but takes batch_stats from the fresh init: every restart throws the
running averages back to 0 / 1, and after the last (short) cycle the evaluated statistics are still
mostly the initial values."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402

CFG = {"cycles": 3, "steps_per_cycle": 12, "peak_lr": 0.01, "width": 16, "momentum": 0.9}


class TrainState(train_state.TrainState):
    batch_stats: dict


class Regressor(nn.Module):
    width: int
    momentum: float

    @nn.compact
    def __call__(self, x, train=False):
        h = nn.Dense(self.width)(x)
        h = nn.BatchNorm(use_running_average=not train, momentum=self.momentum)(h)
        return nn.Dense(1)(nn.gelu(h))


def create_train_state(rng, cfg, cycle, previous=None):
    model = Regressor(cfg["width"], cfg["momentum"])
    variables = model.init(rng, jnp.ones((1, 4)))
    schedule = optax.cosine_decay_schedule(cfg["peak_lr"] / (cycle + 1), cfg["steps_per_cycle"])
    params = variables["params"] if previous is None else previous.params
    return TrainState.create(apply_fn=model.apply, params=params, tx=optax.adam(schedule),
                             batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        pred, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x,
                                       train=True, mutable=["batch_stats"])
        return jnp.mean((pred - y) ** 2), updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"])
    return state, loss


def sample(rng):
    x = rng.normal(2.5, 1.0, (64, 4)).astype("float32")
    return jnp.asarray(x), jnp.asarray(x.sum(1, keepdims=True) * 0.3)


def main():
    rng = np.random.default_rng(0)
    key = jax.random.PRNGKey(0)
    state = None
    for cycle in range(CFG["cycles"]):
        key, sub = jax.random.split(key)
        state = create_train_state(sub, CFG, cycle, previous=state)
        for _ in range(CFG["steps_per_cycle"]):
            state, loss = train_step(state, *sample(rng))
        print(f"cycle {cycle} loss {float(loss):.4f}")
    x, _ = sample(rng)
    dense = state.params["Dense_0"]
    target = np.asarray((x @ dense["kernel"] + dense["bias"]).mean(0))
    mean = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    ratio = float(np.dot(mean, target) / np.dot(target, target))
    print(f"running mean / population mean (projection): {ratio:.2f}")
    print("BN-GROUND-TRUTH:", "updated" if ratio > 0.8 else "reset")


if __name__ == "__main__":
    main()
