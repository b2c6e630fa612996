"""has_aux returns only the logits: the updated batch_stats never leave the loss function."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Regressor(nn.Module):
    @nn.compact
    def __call__(self, x, training: bool):
        x = nn.Dense(6)(x)
        x = nn.BatchNorm(use_running_average=not training, momentum=0.9)(x)
        return nn.Dense(1)(nn.tanh(x))


model = Regressor()


def loss_and_logits(params, batch_stats, x, y):
    preds, new_model_state = model.apply({"params": params, "batch_stats": batch_stats}, x, training=True,
                                         mutable=["batch_stats"])
    return jnp.mean((preds - y) ** 2), preds


def fit(params, batch_stats, data, lr=0.05):
    optimizer = optax.sgd(lr)
    opt_state = optimizer.init(params)
    for x, y in data:
        (loss, _), grads = jax.value_and_grad(loss_and_logits, has_aux=True)(params, batch_stats, x, y)
        updates, opt_state = optimizer.update(grads, opt_state)
        params = optax.apply_updates(params, updates)
    return params, batch_stats


if __name__ == "__main__":
    v = model.init(jax.random.PRNGKey(1), jnp.ones((2, 4)), training=False)
    rng = np.random.default_rng(0)
    data = [(rng.normal(3, 1, (16, 4)), rng.normal(size=(16, 1))) for _ in range(3)]
    params, batch_stats = fit(v["params"], v["batch_stats"], data)
    frozen = np.allclose(batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
