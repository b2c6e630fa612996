"""Flax linen classifier trained with gradient accumulation: a jitted micro_step returns the loss, the
gradients and the new batch_stats of one micro-batch; the Python train_epoch() sums the gradients of
`accum_steps` micro-batches and applies their mean. Each micro_step starts from the batch_stats the
previous one returned, and the last ones are written into the TrainState with the gradients."""
import argparse
import os
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: Any


class MLP(nn.Module):
    hidden: int = 16
    num_classes: int = 2

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.hidden, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, name="bn")(x)
        x = nn.relu(x)
        return nn.Dense(self.num_classes)(x)


@jax.jit
def micro_step(state, batch_stats, images, labels):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": batch_stats}, images,
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, updates["batch_stats"]
    (loss, new_batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return loss, grads, new_batch_stats


def train_epoch(state, batches, accum_steps):
    losses = []
    for start in range(0, len(batches), accum_steps):
        summed = None
        batch_stats = state.batch_stats
        for images, labels in batches[start:start + accum_steps]:
            loss, grads, batch_stats = micro_step(state, batch_stats, images, labels)
            summed = grads if summed is None else jax.tree_util.tree_map(jnp.add, summed, grads)
            losses.append(float(loss))
        mean_grads = jax.tree_util.tree_map(lambda g: g / accum_steps, summed)
        state = state.apply_gradients(grads=mean_grads, batch_stats=batch_stats)
    return state, float(np.mean(losses))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--accum-steps", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    model = MLP()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 8)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(4):
        x = rng.normal(2.0, 1.0, (16, 8)).astype("float32")
        batches.append((x, (x.sum(axis=1) > 16).astype("int32")))
    for epoch in range(args.epochs):
        state, loss = train_epoch(state, batches, args.accum_steps)
        print(f"epoch {epoch} loss {loss:.3f}")
    mean = np.asarray(state.batch_stats["bn"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
