"""Train step takes `apply(..., mutable=['batch_stats'])[0]`: the indexing throws the new statistics away."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Regressor(nn.Module):
    hidden: int = 16

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(1)(nn.gelu(x))


model = Regressor()
tx = optax.adamw(1e-2)


@jax.jit
def train_step(params, batch_stats, opt_state, x, y):
    def loss_fn(p):
        pred = model.apply({"params": p, "batch_stats": batch_stats}, x, train=True, mutable=["batch_stats"])[0]
        return jnp.mean((pred - y) ** 2)
    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), batch_stats, opt_state, loss


if __name__ == "__main__":
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 4)), train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for epoch in range(2):
        for _ in range(3):
            params, batch_stats, opt_state, loss = train_step(
                params, batch_stats, opt_state, rng.normal(2, 1, (16, 4)), rng.normal(size=(16, 1)))
        print("epoch", epoch, "loss", float(loss))
    frozen = np.allclose(batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
