"""Frozen Flax feature extractor: BatchNorm(use_running_average=True) in a module that is never trained."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class FrozenFeatures(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.Dense(6)(x)
        return nn.BatchNorm(use_running_average=True)(x)


class Head(nn.Module):
    @nn.compact
    def __call__(self, feats):
        return nn.Dense(2)(feats)


if __name__ == "__main__":
    features, head = FrozenFeatures(), Head()
    fvars = features.init(jax.random.PRNGKey(0), jnp.ones((1, 4)))
    head_params = head.init(jax.random.PRNGKey(1), jnp.ones((1, 6)))["params"]
    tx = optax.sgd(0.1)
    opt_state = tx.init(head_params)
    rng = np.random.default_rng(0)

    def loss_fn(p, x, y):
        feats = features.apply(fvars, x)
        return optax.softmax_cross_entropy_with_integer_labels(head.apply({"params": p}, feats), y).mean()

    for _ in range(3):
        x, y = rng.normal(size=(8, 4)), rng.integers(0, 2, 8)
        grads = jax.grad(loss_fn)(head_params, x, y)
        updates, opt_state = tx.update(grads, opt_state)
        head_params = optax.apply_updates(head_params, updates)
    unchanged = np.allclose(fvars["batch_stats"]["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen-by-design" if unchanged else "updated")
