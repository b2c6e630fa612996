"""Custom training loop where the training-mode forward is bound once with
functools.partial(model, training=True) and the evaluation forward with training=False: the step
calls `train_forward(x)` and never spells `training=` at the call."""
import functools
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_model():
    inputs = keras.Input((12,))
    x = layers.Dense(16)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("gelu")(x)
    return keras.Model(inputs, layers.Dense(1)(x))


class Loop:
    def __init__(self, model, lr=1e-2):
        self.model = model
        self.train_forward = functools.partial(model, training=True)
        self.eval_forward = functools.partial(model, training=False)
        self.optimizer = keras.optimizers.Adam(lr)

    @tf.function
    def step(self, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.train_forward(x) - y))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def evaluate(self, x, y):
        return float(tf.reduce_mean(tf.square(self.eval_forward(x) - y)))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 12)) + 3).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    loop = Loop(build_model())
    bn = loop.model.get_layer("bn")
    means = []
    for epoch in range(3):
        for i in range(0, 64, 16):
            loop.step(x[i:i + 16], y[i:i + 16])
        means.append(bn.moving_mean.numpy().copy())
        before_eval = bn.moving_mean.numpy().copy()
        print("epoch", epoch, "val", loop.evaluate(x[:16], y[:16]))
        assert np.array_equal(before_eval, bn.moving_mean.numpy())
    moved = not np.allclose(means[0], 0.0) and not np.allclose(means[0], means[-1])
    print("BN-GROUND-TRUTH:", "updated" if moved else "frozen")


if __name__ == "__main__":
    main()
