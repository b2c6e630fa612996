"""Linen CNN whose trunk is a list of ConvBlock modules, each with
`__call__(self, x, train: bool = False)` and BatchNorm(use_running_average=not train). The model
loops over the blocks and passes train=train to every one of them, so all three BatchNorm layers
use batch statistics in the mutable train step and their batch_stats are written back."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
from typing import Sequence  # noqa: E402

import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import traverse_util  # noqa: E402
from flax.training import train_state  # noqa: E402


class ConvBlock(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Conv(self.features, (3, 3), use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(x)
        return nn.relu(x)


class SmallCNN(nn.Module):
    widths: Sequence[int] = (8, 16, 16)
    num_classes: int = 4

    def setup(self):
        self.trunk = [ConvBlock(w) for w in self.widths]
        self.head = nn.Dense(self.num_classes)

    def __call__(self, x, train: bool = False):
        for block in self.trunk:
            x = block(x, train=train)
        return self.head(jnp.mean(x, axis=(1, 2)))


class TrainState(train_state.TrainState):
    batch_stats: dict


@jax.jit
def train_step(state, images, labels):
    def loss_fn(params):
        logits, mutated = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, images,
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, mutated
    (loss, mutated), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=mutated["batch_stats"])
    return state, loss


@jax.jit
def eval_step(state, images, labels):
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, images, train=False)
    return jnp.mean(jnp.argmax(logits, -1) == labels)


def main(steps=5):
    model = SmallCNN()
    rng = np.random.default_rng(0)
    variables = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(3e-3),
                              batch_stats=variables["batch_stats"])
    for _ in range(steps):
        images = rng.normal(1.0, 2.0, (16, 8, 8, 3)).astype(np.float32)
        labels = rng.integers(0, 4, 16)
        state, loss = train_step(state, images, labels)
    acc = eval_step(state, rng.normal(1.0, 2.0, (16, 8, 8, 3)).astype(np.float32), rng.integers(0, 4, 16))
    print(f"loss {float(loss):.3f} acc {float(acc):.3f}")
    flat = traverse_util.flatten_dict(state.batch_stats, sep="/")
    at_init = {path[:-len("/mean")]: bool(np.allclose(v, 0) and np.allclose(flat[path[:-4] + "var"], 1))
               for path, v in sorted(flat.items()) if path.endswith("/mean")}
    print("blocks still at init:", at_init)
    if not any(at_init.values()):
        verdict = "updated"
    elif all(at_init.values()):
        verdict = "frozen"
    else:
        verdict = "partly-frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
