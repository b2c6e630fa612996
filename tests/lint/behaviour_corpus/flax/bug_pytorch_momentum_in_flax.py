"""Flax port of a PyTorch model: BatchNorm(momentum=0.1) (Flax weighs the OLD average by momentum)."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402


class Block(nn.Module):
    features: int
    bn_momentum: float = 0.1

    @nn.compact
    def __call__(self, x, train):
        x = nn.Dense(self.features, use_bias=False, name="proj")(x)
        return nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-5, name="norm")(x)


if __name__ == "__main__":
    block = Block(4)
    variables = block.init(jax.random.PRNGKey(0), jnp.ones((2, 3)), train=False)
    params, stats = variables["params"], variables["batch_stats"]
    rng = np.random.default_rng(0)
    for i in range(4):
        xb = rng.normal(i, 1, (32, 3))
        _, mutated = block.apply({"params": params, "batch_stats": stats}, xb, train=True, mutable=["batch_stats"])
        stats = mutated["batch_stats"]
    last_mean = (xb @ np.asarray(params["proj"]["kernel"])).mean(0)
    gap = np.abs(np.asarray(stats["norm"]["mean"]) - last_mean).max()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.15 * np.abs(last_mean).max() else "updated")
