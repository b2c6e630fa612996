"""Flax NNX: a sanity-check evaluation of the freshly built model calls model.eval(); the training
loop that follows never calls model.train(), so every BatchNorm uses (and keeps) its running averages."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class Classifier(nnx.Module):
    def __init__(self, din, dhidden, dout, *, rngs):
        self.fc1 = nnx.Linear(din, dhidden, rngs=rngs)
        self.bn = nnx.BatchNorm(dhidden, rngs=rngs)
        self.fc2 = nnx.Linear(dhidden, dout, rngs=rngs)

    def __call__(self, x):
        return self.fc2(nnx.relu(self.bn(self.fc1(x))))


def accuracy(model, x, y):
    model.eval()
    return float((model(x).argmax(-1) == y).mean())


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def main(steps=4):
    rng = np.random.default_rng(0)
    model = Classifier(4, 8, 3, rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.sgd(0.05), wrt=nnx.Param)
    val_x, val_y = jnp.asarray(rng.normal(size=(16, 4))), jnp.asarray(rng.integers(0, 3, 16))
    print(f"accuracy before training: {accuracy(model, val_x, val_y):.2f}")
    for _ in range(steps):
        train_step(model, optimizer, jnp.asarray(rng.normal(2, 1, (16, 4))), jnp.asarray(rng.integers(0, 3, 16)))
    frozen = np.allclose(model.bn.mean.value, 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
