"""Subclassed Keras 3 model whose call() does not forward `training` to BN: Keras propagates it anyway."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class ConvBlock(layers.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(filters, 3, padding="same")
        self.bn = layers.BatchNormalization()

    def call(self, x):
        return keras.activations.relu(self.bn(self.conv(x)))


class TinyNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.block = ConvBlock(4)
        self.pool = layers.GlobalAveragePooling2D()
        self.head = layers.Dense(2)

    def call(self, inputs, training=None):
        return self.head(self.pool(self.block(inputs)))


if __name__ == "__main__":
    model = TinyNet()
    optimizer = keras.optimizers.Adam(1e-2)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    rng = np.random.default_rng(0)
    for step in range(3):
        x = rng.normal(2, 1, (8, 6, 6, 1)).astype("float32")
        y = rng.integers(0, 2, 8)
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    trained = np.array(model.block.bn.moving_mean)
    model(rng.normal(-5, 1, (8, 6, 6, 1)).astype("float32"), training=False)
    ok = not np.allclose(trained, 0) and np.allclose(trained, model.block.bn.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "frozen")
