"""Flax linen classifier: train with a TrainState carrying batch_stats, save params + batch_stats with
flax.serialization, then a separate inference section (predict.py style) restores them into a
Predictor. Its apply call passes train=True with mutable=['batch_stats'] (the usual way around the
"collection 'batch_stats' is immutable" error) and keeps only the logits: every prediction is
normalized with the test batch's own statistics instead of the restored running averages."""
import os
import tempfile
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")
import flax.linen as nn  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from flax import serialization  # noqa: E402
from flax.training import train_state  # noqa: E402

HPARAMS = {"features": 16, "classes": 3, "lr": 1e-2, "steps": 12, "batch": 32}


class TrainState(train_state.TrainState):
    batch_stats: Any


class Classifier(nn.Module):
    features: int = 16
    classes: int = 3

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = nn.Dense(self.features, use_bias=False)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.9, name="norm")(x)
        return nn.Dense(self.classes)(nn.relu(x))


@jax.jit
def train_step(state, x, y):
    def loss_fn(params):
        logits, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats}, x,
                                         train=True, mutable=["batch_stats"])
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, updates["batch_stats"]
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads).replace(batch_stats=stats), loss


class Predictor:
    def __init__(self, path, example):
        self.model = Classifier(HPARAMS["features"], HPARAMS["classes"])
        template = self.model.init(jax.random.PRNGKey(1), example)
        with open(path, "rb") as fh:
            self.variables = serialization.from_bytes(
                {"params": template["params"], "batch_stats": template["batch_stats"]}, fh.read())
        self._forward = jax.jit(self._logits)

    def _logits(self, variables, x):
        logits, _ = self.model.apply(variables, x, train=True, mutable=["batch_stats"])
        return logits

    def __call__(self, x):
        return self._forward(self.variables, x)


def main():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(8, HPARAMS["classes"]))
    def batch(shift=1.0):
        x = rng.normal(shift, 1.0, (HPARAMS["batch"], 8)).astype(np.float32)
        return jnp.asarray(x), jnp.asarray((x @ w).argmax(1))
    model = Classifier(HPARAMS["features"], HPARAMS["classes"])
    variables = model.init(jax.random.PRNGKey(0), jnp.ones((1, 8)))
    state = TrainState.create(apply_fn=model.apply, params=variables["params"], tx=optax.adam(HPARAMS["lr"]),
                              batch_stats=variables["batch_stats"])
    for step in range(HPARAMS["steps"]):
        state, loss = train_step(state, *batch())
    print(f"final train loss {float(loss):.3f}")
    trained = not np.allclose(np.asarray(state.batch_stats["norm"]["mean"]),
                              np.asarray(variables["batch_stats"]["norm"]["mean"]))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "classifier.msgpack")
        with open(path, "wb") as fh:
            fh.write(serialization.to_bytes({"params": state.params, "batch_stats": state.batch_stats}))
        predictor = Predictor(path, jnp.ones((1, 8)))
    test_x, _ = batch(shift=3.0)
    served = np.asarray(predictor(test_x))
    reference = np.asarray(model.apply(predictor.variables, test_x, train=False))
    gap = float(np.abs(served - reference).max())
    print(f"max |served - running-average logits| = {gap:.4f}")
    if gap > 1e-4:
        verdict = "eval-uses-batch-stats"
    else:
        verdict = "updated" if trained else "frozen"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
