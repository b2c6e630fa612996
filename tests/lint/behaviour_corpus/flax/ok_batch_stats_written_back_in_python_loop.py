"""Jitted step returns gradients and the new batch_stats; the Python loop applies the gradients and
writes the statistics back with state.replace outside jit."""
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


class ConvClassifier(nn.Module):
    features: int = 6
    num_classes: int = 2

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(self.features, (3, 3), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, name="bn")(x)
        x = nn.relu(x).mean(axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


@jax.jit
def compute_grads(state, images, labels):
    def loss_fn(params):
        logits, mutated = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, mutated["batch_stats"]
    (loss, new_batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return loss, grads, new_batch_stats


def fit(state, batches):
    for images, labels in batches:
        loss, grads, new_batch_stats = compute_grads(state, images, labels)
        state = state.apply_gradients(grads=grads)
        state = state.replace(batch_stats=new_batch_stats)
    return state


if __name__ == "__main__":
    model = ConvClassifier()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6, 6, 1)))
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.sgd(0.05),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    batches = [(rng.normal(2, 1, (8, 6, 6, 1)), rng.integers(0, 2, 8)) for _ in range(3)]
    state = fit(state, batches)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(state.batch_stats["bn"]["mean"], 0) else "updated")
