"""Whole epoch under jax.lax.scan: the carry threads params and optimizer state but not batch_stats."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Model(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(1)(nn.tanh(x))


model = Model()
tx = optax.adam(1e-2)


def make_epoch_fn(batch_stats):
    def body(carry, batch):
        params, opt_state = carry
        x, y = batch

        def loss_fn(p):
            pred, new_state = model.apply({"params": p, "batch_stats": batch_stats}, x, train=True,
                                          mutable=["batch_stats"])
            return jnp.mean((pred - y) ** 2), new_state
        (loss, new_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss
    return jax.jit(lambda carry, xs, ys: jax.lax.scan(body, carry, (xs, ys)))


if __name__ == "__main__":
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 5)), train=False)
    params, batch_stats = variables["params"], variables["batch_stats"]
    carry = (params, tx.init(params))
    rng = np.random.default_rng(0)
    run_epoch = make_epoch_fn(batch_stats)
    for epoch in range(2):
        xs, ys = rng.normal(2, 1, (4, 16, 5)), rng.normal(size=(4, 16, 1))
        carry, losses = run_epoch(carry, xs, ys)
        print("epoch", epoch, "loss", float(losses[-1]))
    frozen = np.allclose(batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
