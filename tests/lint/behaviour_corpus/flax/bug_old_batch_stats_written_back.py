"""The step writes batch_stats back... but the OLD ones: the new statistics from the mutable apply are lost."""
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
    @nn.compact
    def __call__(self, x, train):
        x = nn.BatchNorm(use_running_average=not train)(nn.Dense(4)(x))
        return nn.Dense(1)(nn.relu(x))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        out, new_model_state = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                              mutable=["batch_stats"])
        return jnp.mean((out - y) ** 2), new_model_state
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads, batch_stats=state.batch_stats), loss


if __name__ == "__main__":
    net = Net()
    v = net.init(jax.random.PRNGKey(0), jnp.ones((1, 3)), train=False)
    state = TrainState.create(apply_fn=net.apply, params=v["params"], tx=optax.sgd(0.05), batch_stats=v["batch_stats"])
    rng = np.random.default_rng(0)
    for _ in range(3):
        state, _ = train_step(state, rng.normal(2, 1, (8, 3)), rng.normal(size=(8, 1)))
    frozen = np.allclose(state.batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
