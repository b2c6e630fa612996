"""Notebook-style Flax regression: module-level model/variables/TrainState, a jitted train step
that writes the new batch_stats back, and a jitted predict lambda used for the per-epoch
validation and the final test predictions."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax.training import train_state  # noqa: E402


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(16)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
        x = nn.relu(x)
        return nn.Dense(1)(x)


class TrainState(train_state.TrainState):
    batch_stats: dict


EPOCHS, BS = 3, 16
rng = np.random.default_rng(0)
X = rng.normal(4.0, 2.0, (64, 6)).astype("float32")
Y = X.mean(1, keepdims=True)
X_VAL = rng.normal(4.0, 2.0, (32, 6)).astype("float32")
Y_VAL = X_VAL.mean(1, keepdims=True)

model = MLP()
variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 6)), train=False)
state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(1e-2),
                          batch_stats=variables["batch_stats"])


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        pred, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x, train=True,
                                       mutable=["batch_stats"])
        return jnp.mean((pred - y) ** 2), updates
    (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads).replace(batch_stats=updates["batch_stats"]), loss


predict = jax.jit(lambda params, x: model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
                                                train=False))

for epoch in range(EPOCHS):
    for i in range(0, len(X), BS):
        state, loss = train_step(state, X[i:i + BS], Y[i:i + BS])
    val_mse = float(jnp.mean((predict(state.params, X_VAL) - Y_VAL) ** 2))
    print(f"epoch {epoch}: val mse {val_mse:.3f}")

# which statistics did the validation predictions use?
served = np.asarray(predict(state.params, X_VAL))
with_trained = np.asarray(model.apply({"params": state.params, "batch_stats": state.batch_stats}, X_VAL,
                                      train=False))
with_initial = np.asarray(model.apply({"params": state.params, "batch_stats": variables["batch_stats"]}, X_VAL,
                                      train=False))
stats_trained = not np.allclose(state.batch_stats["BatchNorm_0"]["mean"], variables["batch_stats"]["BatchNorm_0"]["mean"])
if stats_trained and np.allclose(served, with_trained, atol=1e-5):
    verdict = "updated"
elif stats_trained and np.allclose(served, with_initial, atol=1e-5):
    verdict = "stale"
else:
    verdict = "broken"
print("BN-GROUND-TRUTH:", verdict)
