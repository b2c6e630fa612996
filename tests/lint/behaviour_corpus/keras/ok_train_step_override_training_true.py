"""Subclassed keras.Model with custom train_step (training=True) and test_step (training=False)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


class CustomModel(keras.Model):
    def __init__(self):
        super().__init__()
        self.d1 = keras.layers.Dense(6)
        self.bn = keras.layers.BatchNormalization()
        self.d2 = keras.layers.Dense(1)
        self.tracker = keras.metrics.Mean(name="loss")

    def call(self, x, training=None):
        return self.d2(tf.nn.relu(self.bn(self.d1(x), training=training)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.tracker.update_state(loss)
        return {"loss": self.tracker.result()}

    def test_step(self, data):
        x, y = data
        self.tracker.update_state(tf.reduce_mean(tf.square(self(x, training=False) - y)))
        return {"loss": self.tracker.result()}


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    m = CustomModel()
    m.compile(optimizer=keras.optimizers.Adam(1e-2))
    m(np.zeros((1, 3), "float32"))
    start = np.array(m.bn.moving_mean)
    m.fit(rng.normal(2, 1, (32, 3)).astype("float32"), rng.normal(size=(32, 1)).astype("float32"), batch_size=8, verbose=0)
    trained = np.array(m.bn.moving_mean)
    m.evaluate(rng.normal(8, 1, (16, 3)).astype("float32"), np.zeros((16, 1), "float32"), verbose=0)
    ok = not np.allclose(start, trained) and np.allclose(trained, m.bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
