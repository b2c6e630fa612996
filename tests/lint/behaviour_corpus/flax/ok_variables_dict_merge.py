"""No TrainState: one `variables` dict, refreshed with {**variables, "params": ..., **mutated} each step."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        return nn.Dense(1)(nn.relu(x))


mlp = MLP()
optimizer = optax.sgd(0.05)


@jax.jit
def step(variables, opt_state, x, y):
    def loss_fn(params):
        pred, mutated = mlp.apply({**variables, "params": params}, x, train=True, mutable=["batch_stats"])
        return jnp.mean((pred - y) ** 2), mutated
    (loss, mutated), grads = jax.value_and_grad(loss_fn, has_aux=True)(variables["params"])
    updates, opt_state = optimizer.update(grads, opt_state)
    params = optax.apply_updates(variables["params"], updates)
    return {**variables, "params": params, **mutated}, opt_state, loss


if __name__ == "__main__":
    variables = mlp.init(jax.random.PRNGKey(0), jnp.ones((2, 3)), train=False)
    opt_state = optimizer.init(variables["params"])
    rng = np.random.default_rng(0)
    for _ in range(4):
        variables, opt_state, loss = step(variables, opt_state, rng.normal(2, 1, (16, 3)), rng.normal(size=(16, 1)))
    mean = variables["batch_stats"]["BatchNorm_0"]["mean"]
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(mean, 0) else "frozen")
