"""Flax training script whose eval_step was derived from train_step: it applies the model with
train=True, mutable=["batch_stats"] "so the shapes match" and returns the state with the new
batch_stats, which the epoch loop keeps. Every validation pass folds the validation batches into
the running statistics that the next epoch and the final model use."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: dict


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(2)(nn.relu(x))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                         mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    return state.replace(batch_stats=updates["batch_stats"]), loss


@jax.jit
def eval_step(state, x, y):
    logits, updates = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, train=True,
                                     mutable=["batch_stats"])
    acc = (logits.argmax(-1) == y).mean()
    return state.replace(batch_stats=updates["batch_stats"]), acc


def main(epochs=2):
    rng = np.random.default_rng(0)
    model = MLP()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 5)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    train_batches = [(rng.normal(0, 1, (16, 5)), rng.integers(0, 2, 16)) for _ in range(3)]
    val_batches = [(rng.normal(5, 3, (16, 5)), rng.integers(0, 2, 16)) for _ in range(2)]
    absorbed = False
    for epoch in range(epochs):
        for x, y in train_batches:
            state, loss = train_step(state, x, y)
        before = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
        accs = []
        for x, y in val_batches:
            state, acc = eval_step(state, x, y)
            accs.append(float(acc))
        absorbed |= not np.allclose(np.asarray(state.batch_stats["BatchNorm_0"]["mean"]), before)
        print(f"epoch {epoch} loss {float(loss):.3f} val acc {np.mean(accs):.3f}")
    print("BN-GROUND-TRUTH:", "contaminated" if absorbed else "updated")


if __name__ == "__main__":
    main()
