"""ResNet-style linen model whose residual Block takes `train: bool = False`; the top-level model
forwards its train flag to every block (Block(...)(x, train=train)), so all BatchNorm layers use
batch statistics and update their moving averages during training."""
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


class Block(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x, train: bool = False):
        y = nn.Conv(self.features, (3, 3), use_bias=False)(x)
        y = nn.BatchNorm(use_running_average=not train, momentum=0.9)(y)
        return nn.relu(x + y)


class TinyResNet(nn.Module):
    features: int = 8
    classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Conv(self.features, (3, 3), use_bias=False)(x)
        x = nn.relu(nn.BatchNorm(use_running_average=not train, momentum=0.9)(x))
        for _ in range(2):
            x = Block(self.features)(x, train=train)
        return nn.Dense(self.classes)(x.mean(axis=(1, 2)))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                         mutable=["batch_stats"])
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads).replace(batch_stats=updates["batch_stats"]), loss


def main(steps=3):
    model = TinyResNet()
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6, 6, 2)), train=False)
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.sgd(0.05),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    for step in range(steps):
        state, loss = train_step(state, rng.normal(2, 1, (8, 6, 6, 2)), rng.integers(0, 3, 8))
        print(f"step {step} loss {float(loss):.3f}")
    block_mean = state.batch_stats["Block_0"]["BatchNorm_0"]["mean"]
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(block_mean, 0) else "updated")


if __name__ == "__main__":
    main()
