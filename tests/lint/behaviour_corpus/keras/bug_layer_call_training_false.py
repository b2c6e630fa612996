"""A residual block whose call() hard-codes training=False for its BatchNormalization."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class ResidualBlock(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.dense = layers.Dense(units)
        self.norm = layers.BatchNormalization()

    def call(self, inputs, training=None):
        h = self.dense(inputs)
        h = self.norm(h, training=False)
        return inputs + keras.activations.relu(h)


if __name__ == "__main__":
    inputs = keras.Input((5,))
    block = ResidualBlock(5, name="block")
    outputs = layers.Dense(1)(block(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    before = np.array(block.norm.moving_mean)
    model.fit(rng.normal(3, 1, (32, 5)), rng.normal(size=(32, 1)), epochs=2, batch_size=16, verbose=0)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(before, block.norm.moving_mean) else "updated")
