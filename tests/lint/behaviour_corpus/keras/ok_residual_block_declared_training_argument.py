"""Keras 3 model built from a custom ResidualBlock layer whose call(self, inputs, training=None, **kwargs)
declares the mode argument and forwards it to its BatchNormalization sublayers: fit() fills
training=True for the blocks, so their BN layers update the moving statistics."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class ResidualBlock(layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.fc_a = layers.Dense(units, use_bias=False)
        self.bn_a = layers.BatchNormalization()
        self.fc_b = layers.Dense(units, use_bias=False)
        self.bn_b = layers.BatchNormalization()

    def call(self, inputs, training=None, **kwargs):
        h = keras.ops.relu(self.bn_a(self.fc_a(inputs), training=training))
        h = self.bn_b(self.fc_b(h), training=training)
        return keras.ops.relu(h + inputs)


def build_regressor(width=16, depth=2):
    inputs = keras.Input((6,))
    h = layers.Dense(width)(inputs)
    for i in range(depth):
        h = ResidualBlock(width, name=f"block{i}")(h)
    return keras.Model(inputs, layers.Dense(1)(h))


def main():
    keras.utils.set_random_seed(2)
    rng = np.random.default_rng(2)
    x = rng.normal(1.0, 1.0, (192, 6)).astype("float32")
    y = (x @ rng.normal(size=(6, 1))).astype("float32")
    model = build_regressor()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x, y, batch_size=32, epochs=3, validation_split=0.25, verbose=0)
    stats = []
    for i in range(2):
        block = model.get_layer(f"block{i}")
        for bn in (block.bn_a, block.bn_b):
            stats.append((bn.moving_mean.numpy(), bn.moving_variance.numpy()))
    frozen = all(np.allclose(m, 0.0) and np.allclose(v, 1.0) for m, v in stats)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
