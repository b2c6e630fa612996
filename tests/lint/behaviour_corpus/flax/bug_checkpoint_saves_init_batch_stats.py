"""Training threads batch_stats correctly through the TrainState, but the checkpoint is assembled
from the dict returned by model.init(): {"params": state.params, "batch_stats":
variables["batch_stats"]}. The saved (and later restored) model carries the initial 0/1
statistics, so inference from the checkpoint normalizes with statistics that never saw the data."""
import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import serialization  # noqa: E402
from flax.training import train_state  # noqa: E402


class TrainState(train_state.TrainState):
    batch_stats: dict


class Classifier(nn.Module):
    classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
        return nn.Dense(self.classes)(nn.relu(x))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                         mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads).replace(batch_stats=updates["batch_stats"]), loss


def save_checkpoint(path, state, variables):
    payload = {"params": state.params, "batch_stats": variables["batch_stats"]}
    with open(path, "wb") as f:
        f.write(serialization.to_bytes(payload))


def load_checkpoint(path, template):
    with open(path, "rb") as f:
        return serialization.from_bytes(template, f.read())


def main(epochs=3, ckpt="classifier.msgpack"):
    model = Classifier()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 5)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    for epoch in range(epochs):
        state, loss = train_step(state, rng.normal(2, 1, (16, 5)), rng.integers(0, 3, 16))
        print(f"epoch {epoch} loss {float(loss):.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, ckpt)
        save_checkpoint(path, state, variables)
        restored = load_checkpoint(path, {"params": state.params, "batch_stats": state.batch_stats})
    saved_mean = restored["batch_stats"]["BatchNorm_0"]["mean"]
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(saved_mean, 0) else "updated")


if __name__ == "__main__":
    main()
