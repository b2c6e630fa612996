"""Keras 3 custom training loop that calls the model with training=False (BN never updates)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_model():
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(8)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, layers.Dense(1)(x))


model = build_model()
optimizer = keras.optimizers.SGD(0.05)
loss_fn = keras.losses.MeanSquaredError()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        preds = model(x, training=False)
        loss = loss_fn(y, preds)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    bn = model.get_layer("bn")
    before = np.array(bn.moving_mean)
    for _ in range(3):
        train_step(rng.normal(2.0, 1.0, (16, 6)).astype("float32"), rng.normal(size=(16, 1)).astype("float32"))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, bn.moving_mean) else "updated")
