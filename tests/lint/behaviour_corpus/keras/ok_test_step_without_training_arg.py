"""Custom loop: train_step uses training=True; the evaluation step calls the model plainly (inference)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5), keras.layers.BatchNormalization(),
                          keras.layers.Dense(1)])
optimizer = keras.optimizers.SGD(0.05)
mse = keras.losses.MeanSquaredError()


@tf.function
def train_step(x, y):
    with tf.GradientTape() as tape:
        loss = mse(y, model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return loss


@tf.function
def test_step(x, y):
    return mse(y, model(x))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    bn = model.layers[1]
    start = np.array(bn.moving_mean)
    for _ in range(3):
        train_step(rng.normal(2, 1, (8, 3)).astype("float32"), rng.normal(size=(8, 1)).astype("float32"))
    trained = np.array(bn.moving_mean)
    test_step(rng.normal(7, 1, (8, 3)).astype("float32"), np.zeros((8, 1), "float32"))
    ok = not np.allclose(start, trained) and np.allclose(trained, bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
