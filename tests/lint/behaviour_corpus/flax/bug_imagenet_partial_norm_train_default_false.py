"""Flax ResNet in the style of the flax/examples imagenet model: `norm = partial(nn.BatchNorm,
use_running_average=not train, ...)` built inside `__call__(self, x, train: bool = False)` — the default
was flipped to False "so that inference is the safe default". The training step still calls
`state.apply_fn(variables, images, mutable=['batch_stats'])` without `train=True`, so every BatchNorm runs
with its running averages: the batch_stats never leave their initial 0 / 1 while the step writes them
back faithfully."""
import functools
import os
from typing import Any, Sequence

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class ResNetBlock(nn.Module):
    filters: int
    norm: Any

    @nn.compact
    def __call__(self, x):
        residual = x
        y = nn.Conv(self.filters, (3, 3), use_bias=False)(x)
        y = nn.relu(self.norm()(y))
        y = nn.Conv(self.filters, (3, 3), use_bias=False)(y)
        y = self.norm(scale_init=nn.initializers.zeros)(y)
        if residual.shape != y.shape:
            residual = nn.Conv(self.filters, (1, 1), use_bias=False)(residual)
            residual = self.norm()(residual)
        return nn.relu(residual + y)


class ResNet(nn.Module):
    stage_sizes: Sequence[int]
    num_classes: int
    num_filters: int = 8

    @nn.compact
    def __call__(self, x, train: bool = False):
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9, epsilon=1e-5)
        x = nn.Conv(self.num_filters, (3, 3), use_bias=False, name="conv_init")(x)
        x = nn.relu(norm(name="bn_init")(x))
        for i, block_size in enumerate(self.stage_sizes):
            for _ in range(block_size):
                x = ResNetBlock(self.num_filters * 2 ** i, norm=norm)(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes)(x)


class TrainState(train_state.TrainState):
    batch_stats: Any


@jax.jit
def train_step(state, batch):
    def loss_fn(params):
        logits, new_model_state = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                                 batch["image"], mutable=["batch_stats"])
        one_hot = jax.nn.one_hot(batch["label"], logits.shape[-1])
        return optax.softmax_cross_entropy(logits, one_hot).mean(), new_model_state
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads, batch_stats=new_model_state["batch_stats"])
    return state, loss


@jax.jit
def eval_step(state, batch):
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, batch["image"],
                            train=False)
    return jnp.mean(jnp.argmax(logits, -1) == batch["label"])


def create_train_state(rng, model, image_shape):
    variables = model.init(rng, jnp.ones(image_shape), train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             tx=optax.sgd(0.05, momentum=0.9), batch_stats=variables["batch_stats"])


if __name__ == "__main__":
    model = ResNet(stage_sizes=[1, 1], num_classes=4)
    state = create_train_state(jax.random.PRNGKey(0), model, (1, 8, 8, 3))
    rng = np.random.default_rng(0)
    for _ in range(3):
        batch = {"image": rng.normal(2, 1, (8, 8, 8, 3)).astype("float32"), "label": rng.integers(0, 4, 8)}
        state, _ = train_step(state, batch)
    eval_step(state, batch)
    mean = np.asarray(state.batch_stats["bn_init"]["mean"])
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0) else "updated")
