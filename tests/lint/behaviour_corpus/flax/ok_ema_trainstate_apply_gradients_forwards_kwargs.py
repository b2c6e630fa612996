"""TrainState subclass that keeps an EMA of the parameters by overriding apply_gradients(). The override
forwards **kwargs to super().apply_gradients(), so the train step's
state.apply_gradients(grads=grads, batch_stats=updates['batch_stats']) stores the new batch
statistics, which the EMA evaluation uses."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from typing import Any  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import struct  # noqa: E402
from flax.training import train_state  # noqa: E402


class EMATrainState(train_state.TrainState):
    batch_stats: Any
    ema_params: Any
    ema_decay: float = struct.field(pytree_node=False, default=0.99)

    def apply_gradients(self, *, grads, **kwargs):
        new_state = super().apply_gradients(grads=grads, **kwargs)
        ema_params = jax.tree_util.tree_map(lambda e, p: self.ema_decay * e + (1.0 - self.ema_decay) * p,
                                            self.ema_params, new_state.params)
        return new_state.replace(ema_params=ema_params)


class MLP(nn.Module):
    hidden: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(self.hidden, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, name="bn")(x)
        x = nn.relu(x)
        return nn.Dense(self.classes)(x)


def create_state(rng, model, learning_rate=1e-2):
    variables = model.init(rng, jnp.ones((1, 8)), train=False)
    return EMATrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(learning_rate),
                                batch_stats=variables["batch_stats"], ema_params=variables["params"])


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, updates

    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=updates["batch_stats"])
    return state, loss


@jax.jit
def eval_step(state, images, labels):
    logits = state.apply_fn({"params": state.ema_params, "batch_stats": state.batch_stats}, images, train=False)
    return (logits.argmax(-1) == labels).mean()


def main():
    rng = np.random.default_rng(0)
    state = create_state(jax.random.PRNGKey(0), MLP())
    for epoch in range(2):
        for _ in range(4):
            images = rng.normal(2.0, 1.0, (16, 8)).astype("float32")
            state, loss = train_step(state, images, rng.integers(0, 3, 16))
        val_images = rng.normal(2.0, 1.0, (32, 8)).astype("float32")
        print(f"epoch {epoch}: loss {float(loss):.3f} ema acc {float(eval_step(state, val_images, rng.integers(0, 3, 32))):.2f}")
    mean = np.asarray(state.batch_stats["bn"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
