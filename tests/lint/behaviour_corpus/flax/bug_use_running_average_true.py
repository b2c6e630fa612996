"""Flax MLP with BatchNorm(use_running_average=True) hard-coded, trained with mutable batch_stats."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class MLP(nn.Module):
    hidden: int = 8

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=True, momentum=0.9)(x)
        x = nn.relu(x)
        return nn.Dense(1)(x)


def main():
    model = MLP()
    x = jnp.ones((4, 3))
    variables = model.init(jax.random.PRNGKey(0), x)
    params, batch_stats = variables["params"], variables["batch_stats"]
    tx = optax.sgd(0.05)
    opt_state = tx.init(params)

    @jax.jit
    def train_step(params, batch_stats, opt_state, xb, yb):
        def loss_fn(p):
            out, updates = model.apply({"params": p, "batch_stats": batch_stats}, xb, train=True,
                                       mutable=["batch_stats"])
            return jnp.mean((out - yb) ** 2), updates
        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        upd, opt_state = tx.update(grads, opt_state)
        return optax.apply_updates(params, upd), updates["batch_stats"], opt_state, loss

    start = batch_stats["BatchNorm_0"]["mean"]
    rng = np.random.default_rng(0)
    for _ in range(3):
        params, batch_stats, opt_state, _ = train_step(params, batch_stats, opt_state,
                                                       rng.normal(2, 1, (16, 3)), rng.normal(size=(16, 1)))
    frozen = np.allclose(start, batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
