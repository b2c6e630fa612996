"""Flax model with a pretrained stem BN frozen on purpose (use_running_average=True) and a trained head BN."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(6, name="stem")(x)
        x = nn.BatchNorm(use_running_average=True, name="stem_bn")(x)  # pretrained statistics, frozen
        x = nn.Dense(6, name="neck")(nn.relu(x))
        x = nn.BatchNorm(use_running_average=not train, name="neck_bn")(x)
        return nn.Dense(1, name="head")(nn.relu(x))


if __name__ == "__main__":
    model = Model()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 3)), train=False)
    params, stats = variables["params"], variables["batch_stats"]
    tx = optax.adam(1e-2)
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x, y = rng.normal(2, 1, (8, 3)), rng.normal(size=(8, 1))

        def loss_fn(p):
            out, mutated = model.apply({"params": p, "batch_stats": stats}, x, train=True, mutable=["batch_stats"])
            return jnp.mean((out - y) ** 2), mutated["batch_stats"]

        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    stem_kept = np.allclose(stats["stem_bn"]["mean"], 0)
    neck_moved = not np.allclose(stats["neck_bn"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "stem-frozen-by-design-neck-updated" if stem_kept and neck_moved else "broken")
