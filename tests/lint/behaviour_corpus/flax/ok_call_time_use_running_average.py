"""Flax BatchNorm configured at call time: nn.BatchNorm()(x, use_running_average=not train)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as fnn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class ResBlock(fnn.Module):
    channels: int = 4

    @fnn.compact
    def __call__(self, x, train: bool):
        y = fnn.Dense(self.channels)(x)
        y = fnn.BatchNorm(momentum=0.9)(y, use_running_average=not train)
        return x + fnn.relu(y)


if __name__ == "__main__":
    block = ResBlock()
    variables = block.init(jax.random.PRNGKey(0), jnp.ones((2, 4)), train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    tx = optax.sgd(1e-2)
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.normal(2, 1, (16, 4))

        def loss_fn(p):
            y, mutated = block.apply({"params": p, "batch_stats": batch_stats}, x, train=True, mutable=["batch_stats"])
            return jnp.mean(y ** 2), mutated["batch_stats"]

        (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    trained = np.asarray(batch_stats["BatchNorm_0"]["mean"])
    block.apply({"params": params, "batch_stats": batch_stats}, rng.normal(9, 1, (4, 4)), train=False)
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(trained, 0) else "frozen")
