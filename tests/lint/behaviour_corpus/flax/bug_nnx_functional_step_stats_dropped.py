"""Flax NNX functional API for a jitted loop: the model is split into (graphdef, params, batch_stats);
the jitted step merges, runs the model in training mode and splits again, returning the new
batch_stats. The loop only keeps the new params and optimizer state, so every step starts from the
initial statistics and the evaluation model is merged with them."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import nnx  # noqa: E402


class ConvNet(nnx.Module):
    def __init__(self, rngs):
        self.conv = nnx.Conv(1, 6, (3, 3), rngs=rngs)
        self.bn = nnx.BatchNorm(6, rngs=rngs)
        self.head = nnx.Linear(6, 3, rngs=rngs)

    def __call__(self, x):
        h = nnx.relu(self.bn(self.conv(x)))
        return self.head(h.mean(axis=(1, 2)))


tx = optax.sgd(0.05, momentum=0.9)


@jax.jit
def train_step(graphdef, params, batch_stats, opt_state, x, y):
    model = nnx.merge(graphdef, params, batch_stats)
    model.train()

    def loss_fn(m):
        return optax.softmax_cross_entropy_with_integer_labels(m(x), y).mean()
    loss, grads = nnx.value_and_grad(loss_fn)(model)
    updates, opt_state = tx.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    _, _, new_batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    return loss, params, opt_state, new_batch_stats


def main():
    model = ConvNet(nnx.Rngs(0))
    graphdef, params, batch_stats = nnx.split(model, nnx.Param, nnx.BatchStat)
    opt_state = tx.init(params)
    rng = np.random.default_rng(0)
    for step in range(4):
        x = jnp.asarray(rng.normal(2, 1, (8, 6, 6, 1)))
        y = jnp.asarray(rng.integers(0, 3, 8))
        loss, params, opt_state, _ = train_step(graphdef, params, batch_stats, opt_state, x, y)
        print("step", step, float(loss))
    eval_model = nnx.merge(graphdef, params, batch_stats)
    eval_model.eval()
    frozen = np.allclose(np.asarray(eval_model.bn.mean.value), 0.0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
