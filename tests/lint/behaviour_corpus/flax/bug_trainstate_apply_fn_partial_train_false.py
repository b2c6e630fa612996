"""The TrainState is created with apply_fn=functools.partial(model.apply, train=False) — the
inference callable that the serving code also uses. The train step calls
state.apply_fn(..., mutable=['batch_stats']) without `train`, so BatchNorm runs with
use_running_average=True: the returned batch_stats are the initial ones at every step."""
import functools
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


class CNN(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Conv(8, (3, 3))(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


def create_state(rng, model, lr):
    variables = model.init(rng, jnp.ones((1, 6, 6, 1)), train=False)
    predict_fn = functools.partial(model.apply, train=False)
    return TrainState.create(apply_fn=predict_fn, params=variables["params"],
                             batch_stats=variables["batch_stats"], tx=optax.adam(lr))


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                         mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"])
    return state, loss


def main():
    state = create_state(jax.random.PRNGKey(0), CNN(), 1e-2)
    rng = np.random.default_rng(0)
    for step in range(4):
        images = jnp.asarray(rng.normal(2, 1, (8, 6, 6, 1)))
        labels = jnp.asarray(rng.integers(0, 3, 8))
        state, loss = train_step(state, images, labels)
        print("step", step, float(loss))
    frozen = np.allclose(np.asarray(state.batch_stats["BatchNorm_0"]["mean"]), 0.0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
