"""Functional training loop that threads (params, batch_stats) through the step explicitly."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Encoder(nn.Module):
    @nn.compact
    def __call__(self, x, *, is_training):
        for width in (8, 4):
            x = nn.Dense(width)(x)
            x = nn.BatchNorm(use_running_average=not is_training)(x)
            x = nn.gelu(x)
        return x


def make_step(model, tx):
    def step(params, model_state, opt_state, x):
        def objective(p):
            z, new_state = model.apply({"params": p, **model_state}, x, is_training=True, mutable=["batch_stats"])
            return jnp.mean(z ** 2), new_state
        (loss, new_state), grads = jax.value_and_grad(objective, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), new_state, opt_state, loss
    return jax.jit(step)


if __name__ == "__main__":
    enc = Encoder()
    variables = enc.init(jax.random.PRNGKey(0), jnp.ones((2, 3)), is_training=False)
    params = variables["params"]
    model_state = {"batch_stats": variables["batch_stats"]}
    tx = optax.adamw(1e-3)
    opt_state = tx.init(params)
    step = make_step(enc, tx)
    rng = np.random.default_rng(0)
    for _ in range(3):
        params, model_state, opt_state, _ = step(params, model_state, opt_state, rng.normal(1, 1, (16, 3)))
    updated = not np.allclose(model_state["batch_stats"]["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")
