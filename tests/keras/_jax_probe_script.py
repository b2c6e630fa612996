"""Run under KERAS_BACKEND=jax by test_probe_jax.py: prints the probe verdicts as JSON."""
import json
import os

assert os.environ["KERAS_BACKEND"] == "jax"
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from bnguard.keras import probe  # noqa: E402

keras.utils.set_random_seed(0)
inp = keras.Input((6,))
h = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(8)(inp))
model = keras.Model(inp, keras.layers.Dense(1)(h))
model.compile(optimizer="sgd", loss="mse")
rng = np.random.default_rng(0)
x = (rng.normal(size=(32, 6)) * 3 + 2).astype("float32")
y = x.sum(1, keepdims=True)
model.train_on_batch(x, y)


def loss_fn(trainable, non_trainable, x, y):
    pred, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
    return keras.ops.mean((pred - y) ** 2), non_trainable


@jax.jit
def jax_step(trainable, non_trainable, x, y):
    (loss, new_nt), grads = jax.value_and_grad(loss_fn, has_aux=True)(trainable, non_trainable, x, y)
    return [w - 0.01 * g for w, g in zip(trainable, grads)], new_nt, loss


def step(keep_stats):
    def run():
        tv = [v.value for v in model.trainable_variables]
        ntv = [v.value for v in model.non_trainable_variables]
        new_tv, new_ntv, loss = jax_step(tv, ntv, x, y)
        for v, val in zip(model.trainable_variables, new_tv):
            v.assign(val)
        if keep_stats:  # the bug is forgetting this loop
            for v, val in zip(model.non_trainable_variables, new_ntv):
                v.assign(val)
        return float(loss)
    return run


before = [np.array(v.value).tobytes() for v in model.variables]
out = {
    "fit": probe(model, lambda: model.train_on_batch(x, y)).verdicts(),
    "stateless_kept": probe(model, step(True)).verdicts(),
    "stateless_dropped": probe(model, step(False)).verdicts(),
    "contaminated": probe(model, step(True), eval_step=lambda: model(x, training=True)).verdicts(),
    "restored": before == [np.array(v.value).tobytes() for v in model.variables],
    "backend": keras.backend.backend(),
}
print("RESULT " + json.dumps(out))
