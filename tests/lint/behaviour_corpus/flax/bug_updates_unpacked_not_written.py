"""has_aux returns the mutated variables, the step unpacks them... and only applies the gradients."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class BNState(train_state.TrainState):
    batch_stats: dict


class Net(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Dense(6)(x)
        x = nn.BatchNorm(use_running_average=not train)(x)
        return nn.Dense(2)(nn.relu(x))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, mutated = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                         mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, (logits, mutated)
    (loss, (logits, mutated)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    state = state.apply_gradients(grads=grads)
    accuracy = jnp.mean(jnp.argmax(logits, -1) == y)
    return state, loss, accuracy


if __name__ == "__main__":
    net = Net()
    v = net.init(jax.random.PRNGKey(0), jnp.ones((1, 3)), train=False)
    state = BNState.create(apply_fn=net.apply, params=v["params"], tx=optax.adam(1e-2), batch_stats=v["batch_stats"])
    rng = np.random.default_rng(0)
    for _ in range(3):
        state, loss, acc = train_step(state, rng.normal(2, 1, (8, 3)), rng.integers(0, 2, 8))
    frozen = np.allclose(state.batch_stats["BatchNorm_0"]["mean"], 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
