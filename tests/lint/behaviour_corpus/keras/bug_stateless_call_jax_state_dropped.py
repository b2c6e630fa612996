"""Keras 3 on JAX: a jitted stateless train step that gets the new BN state back... and returns the old one."""
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

model = keras.Sequential([keras.Input((5,)), layers.Dense(8), layers.BatchNormalization(), layers.ReLU(),
                          layers.Dense(1)])
optimizer = keras.optimizers.Adam(1e-2)
optimizer.build(model.trainable_variables)
loss_fn = keras.losses.MeanSquaredError()


def compute_loss(trainable, non_trainable, x, y):
    preds, updated_non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
    return loss_fn(y, preds), updated_non_trainable


grad_fn = jax.value_and_grad(compute_loss, has_aux=True)


@jax.jit
def train_step(state, x, y):
    trainable, non_trainable, opt_vars = state
    (loss, _), grads = grad_fn(trainable, non_trainable, x, y)
    trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
    return loss, (trainable, non_trainable, opt_vars)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    for _ in range(3):
        loss, state = train_step(state, rng.normal(2, 1, (16, 5)).astype("float32"),
                                 rng.normal(size=(16, 1)).astype("float32"))
    for var, value in zip(model.non_trainable_variables, state[1]):
        var.assign(value)
    moving_mean = model.layers[1].moving_mean
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0) else "updated")
