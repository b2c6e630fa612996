"""Flax NNX model trained with a plain jax.jit step over the functional split: the model is split
into (graphdef, params, batch_stats), the step merges a module from them, runs it in train mode
under nnx.value_and_grad and returns the optax-updated params together with
nnx.state(module, nnx.BatchStat). The loop rebinds both and refreshes the live model with
nnx.update(model, params, batch_stats), so the live model is evaluated with the trained statistics."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from dataclasses import dataclass  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


@dataclass(frozen=True)
class RunConfig:
    hidden: int = 16
    lr: float = 1e-2
    epochs: int = 3
    batches_per_epoch: int = 3
    batch_size: int = 32


class Regressor(nnx.Module):
    def __init__(self, n_in, hidden, rngs):
        self.fc1 = nnx.Linear(n_in, hidden, rngs=rngs)
        self.norm = nnx.BatchNorm(hidden, momentum=0.8, rngs=rngs)
        self.fc2 = nnx.Linear(hidden, 1, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.norm(self.fc1(x))))


def make_step(graphdef, tx):
    @jax.jit
    def step(params, batch_stats, opt_state, x, y):
        module = nnx.merge(graphdef, params, batch_stats)
        module.train()

        def loss_fn(m):
            return jnp.mean((m(x) - y) ** 2)
        loss, grads = nnx.value_and_grad(loss_fn)(module)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), nnx.state(module, nnx.BatchStat), opt_state, loss
    return step


def batches(rng, cfg):
    for _ in range(cfg.batches_per_epoch):
        x = rng.normal(2.0, 1.5, (cfg.batch_size, 5)).astype(np.float32)
        yield x, (x[:, :2].sum(1, keepdims=True) - x[:, 2:3]).astype(np.float32)


def main(cfg=RunConfig()):
    rng = np.random.default_rng(0)
    model = Regressor(5, cfg.hidden, nnx.Rngs(0))
    graphdef, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    tx = optax.adam(cfg.lr)
    opt_state = tx.init(params)
    step = make_step(graphdef, tx)
    for epoch in range(cfg.epochs):
        for x, y in batches(rng, cfg):
            params, batch_stats, opt_state, loss = step(params, batch_stats, opt_state, x, y)
        nnx.update(model, params, batch_stats)
        model.eval()
        xv, yv = next(batches(rng, cfg))
        print(f"epoch {epoch} train loss {float(loss):.3f} val mse {float(jnp.mean((model(xv) - yv) ** 2)):.3f}")
    mean = np.asarray(model.norm.mean[...])
    var = np.asarray(model.norm.var[...])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0) and np.allclose(var, 1) else "updated")


if __name__ == "__main__":
    main()
