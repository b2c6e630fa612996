"""Flax NNX: validate() calls model.eval(); the epoch loop called model.train() once, before the epochs."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class CNN(nnx.Module):
    def __init__(self, rngs):
        self.conv = nnx.Conv(1, 4, kernel_size=(3, 3), rngs=rngs)
        self.bn = nnx.BatchNorm(4, rngs=rngs)
        self.head = nnx.Linear(4, 2, rngs=rngs)

    def __call__(self, x):
        x = nnx.relu(self.bn(self.conv(x)))
        return self.head(x.mean(axis=(1, 2)))


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def validate(model, batches):
    model.eval()
    return float(np.mean([(model(x).argmax(-1) == y).mean() for x, y in batches]))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = CNN(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    train = [(jnp.asarray(rng.normal(2, 1, (8, 6, 6, 1))), jnp.asarray(rng.integers(0, 2, 8))) for _ in range(3)]
    val = [(jnp.asarray(rng.normal(0, 1, (8, 6, 6, 1))), jnp.asarray(rng.integers(0, 2, 8)))]
    changed = []
    model.train()
    for epoch in range(3):
        before = np.asarray(model.bn.mean.value)
        for x, y in train:
            train_step(model, optimizer, x, y)
        changed.append(not np.allclose(before, model.bn.mean.value))
        print("epoch", epoch, "val acc", validate(model, val))
    print("BN-GROUND-TRUTH:", "stale" if changed[0] and not any(changed[1:]) else "updated")
