"""Flax NNX model whose BatchNorm is constructed with use_running_average=True (the inference
default of the exported model); model.train() before the training loop flips it, so the statistics
update, and model.eval() flips it back for validation."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class Encoder(nnx.Module):
    def __init__(self, rngs: nnx.Rngs):
        self.proj = nnx.Linear(5, 10, rngs=rngs)
        self.norm = nnx.BatchNorm(10, use_running_average=True, momentum=0.9, rngs=rngs)
        self.out = nnx.Linear(10, 2, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.gelu(self.norm(self.proj(x))))


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


def train(model, optimizer, batches):
    model.train()
    for x, y in batches:
        train_step(model, optimizer, x, y)


def validate(model, x):
    model.eval()
    return model(x)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = Encoder(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    batches = [(jnp.asarray(rng.normal(2, 1, (16, 5))), jnp.asarray(rng.integers(0, 2, 16))) for _ in range(3)]
    train(model, optimizer, batches)
    trained = np.asarray(model.norm.mean.value)
    validate(model, jnp.asarray(rng.normal(-7, 1, (16, 5))))
    ok = not np.allclose(trained, 0) and np.allclose(trained, model.norm.mean.value)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
