"""Flax NNX: model.train() for the optimisation steps, model.eval() for validation."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.fc = nnx.Linear(3, 6, rngs=rngs)
        self.bn = nnx.BatchNorm(6, rngs=rngs)
        self.out = nnx.Linear(6, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.bn(self.fc(x))))


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return jnp.mean((m(x) - y) ** 2)
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = MLP(nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    model.train()
    for _ in range(3):
        train_step(model, optimizer, jnp.asarray(rng.normal(2, 1, (8, 3))), jnp.asarray(rng.normal(size=(8, 1))))
    trained = np.asarray(model.bn.mean.value)
    model.eval()
    model(jnp.asarray(rng.normal(9, 1, (8, 3))))
    ok = not np.allclose(trained, 0) and np.allclose(trained, model.bn.mean.value)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
