"""Custom loop done right: training=True in the step, training=False in evaluation."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def make_mlp():
    return keras.Sequential([keras.Input((5,)), keras.layers.Dense(7), keras.layers.BatchNormalization(),
                             keras.layers.ReLU(), keras.layers.Dense(1)])


class Runner:
    def __init__(self, model):
        self.model = model
        self.opt = keras.optimizers.SGD(0.05)

    @tf.function
    def train_step(self, x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self.model(x, training=True) - y))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def evaluate(self, x, y):
        return float(tf.reduce_mean(tf.square(self.model(x, training=False) - y)))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    runner = Runner(make_mlp())
    bn = runner.model.layers[1]
    start = np.array(bn.moving_mean)
    for _ in range(3):
        runner.train_step(rng.normal(2, 1, (16, 5)).astype("float32"), rng.normal(size=(16, 1)).astype("float32"))
    trained = np.array(bn.moving_mean)
    runner.evaluate(rng.normal(9, 1, (16, 5)).astype("float32"), np.zeros((16, 1), "float32"))
    ok = not np.allclose(start, trained) and np.allclose(trained, bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
