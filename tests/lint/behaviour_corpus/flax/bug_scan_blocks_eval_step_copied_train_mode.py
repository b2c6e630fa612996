"""Flax linen model whose residual BN blocks are stacked with nn.scan (variable_axes for params and
batch_stats), trained with a TrainState subclass that carries batch_stats; the train step writes
the new statistics back. eval_step() was copied from the train step and still applies the model
with train=True, mutable=['batch_stats'], dropping the returned statistics: the stored running
averages are fine, but every validation loss -- and the best-checkpoint selection based on it --
is computed with the statistics of the validation batch itself, not with the running averages
the deployed model uses."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from typing import Any  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class ResidualBlock(nn.Module):
    width: int

    @nn.compact
    def __call__(self, x, train: bool):
        y = nn.Dense(self.width, use_bias=False)(x)
        y = nn.BatchNorm(use_running_average=not train, momentum=0.9)(y)
        return x + nn.relu(y), None


class ScanResMLP(nn.Module):
    depth: int = 3
    width: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.width)(x)
        blocks = nn.scan(ResidualBlock, variable_axes={"params": 0, "batch_stats": 0},
                         split_rngs={"params": True}, in_axes=(nn.broadcast,), length=self.depth)
        x, _ = blocks(self.width, name="blocks")(x, train)
        return nn.Dense(self.classes)(x)


class TrainState(train_state.TrainState):
    batch_stats: Any


def cross_entropy(logits, labels):
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


@jax.jit
def train_step(state, batch):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, batch["x"],
                                         train=True, mutable=["batch_stats"])
        return cross_entropy(logits, batch["y"]), updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"]), loss


@jax.jit
def eval_step(state, batch):
    logits, _ = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, batch["x"],
                               train=True, mutable=["batch_stats"])
    return cross_entropy(logits, batch["y"]), logits


def make_batches(rng, n, shift, size=16):
    x = rng.normal(shift, 1.0, (n, 6)).astype("float32")
    y = ((x[:, 0] > shift).astype("int32") + (x[:, 1] > shift).astype("int32"))
    return [{"x": x[i:i + size], "y": y[i:i + size]} for i in range(0, n, size)]


def main():
    rng = np.random.default_rng(0)
    model = ScanResMLP()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    train_batches = make_batches(rng, 96, 1.0)
    val_batches = make_batches(rng, 32, 2.5)
    best_loss, best_state = np.inf, state
    for epoch in range(4):
        for batch in train_batches:
            state, loss = train_step(state, batch)
        val_loss = float(np.mean([eval_step(state, b)[0] for b in val_batches]))
        print(f"epoch {epoch}: train loss {float(loss):.3f} val loss {val_loss:.3f}")
        if val_loss < best_loss:
            best_loss, best_state = val_loss, state

    probe = val_batches[0]
    _, reported = eval_step(best_state, probe)
    variables = {"params": best_state.params, "batch_stats": best_state.batch_stats}
    with_running = best_state.apply_fn(variables, probe["x"], train=False)
    with_batch, _ = best_state.apply_fn(variables, probe["x"], train=True, mutable=["batch_stats"])
    stats_trained = not np.allclose(best_state.batch_stats["blocks"]["BatchNorm_0"]["mean"], 0.0)
    if not stats_trained:
        verdict = "frozen"
    elif np.allclose(reported, with_batch, atol=1e-5) and not np.allclose(reported, with_running, atol=1e-3):
        verdict = "eval-uses-batch-stats"
    elif np.allclose(reported, with_running, atol=1e-5):
        verdict = "updated"
    else:
        verdict = "other"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
