"""Keras 3 on JAX, the custom-training-loop guide pattern: the new non-trainable (BN) state is threaded through."""
import os

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def build():
    inputs = keras.Input((5,))
    x = layers.Dense(8)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    return keras.Model(inputs, layers.Dense(1)(layers.ReLU()(x)))


model = build()
optimizer = keras.optimizers.SGD(0.05)
optimizer.build(model.trainable_variables)


def compute_loss_and_updates(trainable, non_trainable, x, y):
    preds, non_trainable = model.stateless_call(trainable, non_trainable, x, training=True)
    return keras.ops.mean((preds - y) ** 2), non_trainable


@jax.jit
def train_step(state, x, y):
    trainable, non_trainable, opt_vars = state
    (loss, non_trainable), grads = jax.value_and_grad(compute_loss_and_updates, has_aux=True)(
        trainable, non_trainable, x, y)
    trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
    return loss, (trainable, non_trainable, opt_vars)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    for _ in range(3):
        loss, state = train_step(state, rng.normal(2, 1, (16, 5)).astype("float32"),
                                 rng.normal(size=(16, 1)).astype("float32"))
    trainable, non_trainable, _ = state
    for var, value in zip(model.trainable_variables, trainable):
        var.assign(value)
    for var, value in zip(model.non_trainable_variables, non_trainable):
        var.assign(value)
    moving_mean = model.get_layer("bn").moving_mean
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0) else "updated")
