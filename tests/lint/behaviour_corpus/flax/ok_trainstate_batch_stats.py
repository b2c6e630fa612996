"""The Flax BN guide pattern: TrainState with batch_stats, updated from the mutable apply."""
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


class Net(nn.Module):
    num_classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, epsilon=1e-5)(x)
        x = nn.relu(x)
        return nn.Dense(self.num_classes)(x)


@jax.jit
def train_step(state, batch):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, batch["x"],
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, batch["y"]).mean()
        return loss, updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    return state.replace(batch_stats=updates["batch_stats"]), loss


@jax.jit
def eval_step(state, batch):
    return state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, batch["x"], train=False)


if __name__ == "__main__":
    net = Net()
    variables = net.init(jax.random.PRNGKey(0), jnp.ones((1, 5)), train=False)
    state = TrainState.create(apply_fn=net.apply, params=variables["params"], tx=optax.adam(1e-2),
                              batch_stats=variables["batch_stats"])
    rng = np.random.default_rng(0)
    for _ in range(3):
        state, _ = train_step(state, {"x": rng.normal(2, 1, (16, 5)), "y": rng.integers(0, 3, 16)})
    trained = np.asarray(state.batch_stats["BatchNorm_0"]["mean"])
    eval_step(state, {"x": rng.normal(9, 1, (16, 5))})
    ok = not np.allclose(trained, 0) and np.allclose(trained, state.batch_stats["BatchNorm_0"]["mean"])
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
