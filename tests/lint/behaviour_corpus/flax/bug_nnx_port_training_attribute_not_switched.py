"""PyTorch-to-NNX port: the residual block keeps PyTorch's habit of a `self.training` attribute and
calls its BatchNorm with use_running_average=not self.training (a call-time argument overrides the
layer's own attribute). nnx's model.train() / model.eval() only set the attributes named
`deterministic` and `use_running_average`; `training` stays at its constructor value False, so the
trained model normalizes with the running averages and its batch statistics never move."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class ResidualBlock(nnx.Module):
    def __init__(self, channels, *, rngs):
        self.conv = nnx.Conv(channels, channels, (3, 3), use_bias=False, rngs=rngs)
        self.norm = nnx.BatchNorm(channels, momentum=0.9, rngs=rngs)
        self.training = False

    def __call__(self, x):
        h = self.norm(self.conv(x), use_running_average=not self.training)
        return nnx.relu(x + h)


class SmallResNet(nnx.Module):
    def __init__(self, classes=3, *, rngs):
        self.stem = nnx.Conv(1, 8, (3, 3), rngs=rngs)
        self.blocks = nnx.List([ResidualBlock(8, rngs=rngs) for _ in range(2)])
        self.head = nnx.Linear(8, classes, rngs=rngs)

    def __call__(self, x):
        x = self.stem(x)
        for blk in self.blocks:
            x = blk(x)
        return self.head(x.mean(axis=(1, 2)))


@nnx.jit
def train_step(model, optimizer, x, y):
    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    optimizer.update(model, grads)
    return loss


@nnx.jit
def eval_step(model, x, y):
    return (model(x).argmax(-1) == y).mean()


def main():
    model = SmallResNet(rngs=nnx.Rngs(0))
    optimizer = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)
    rng = np.random.default_rng(0)
    for epoch in range(3):
        model.train()
        for _ in range(3):
            x = jnp.asarray(rng.normal(2.0, 1.5, (8, 6, 6, 1)), jnp.float32)
            y = jnp.asarray(rng.integers(0, 3, 8))
            loss = train_step(model, optimizer, x, y)
        model.eval()
        xv = jnp.asarray(rng.normal(2.0, 1.5, (8, 6, 6, 1)), jnp.float32)
        acc = eval_step(model, xv, jnp.asarray(rng.integers(0, 3, 8)))
        print(f"epoch {epoch} loss {float(loss):.3f} acc {float(acc):.2f}")
    mean = np.asarray(model.blocks[0].norm.mean[...])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
