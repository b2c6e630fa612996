"""Keras 3 port of a PyTorch ResNet: the norm-layer factory is
functools.partial(layers.BatchNormalization, momentum=0.1, epsilon=1e-5) copied from nn.BatchNorm2d's
defaults. Keras keeps `momentum` of the OLD value, so the moving statistics follow the last batch."""
import functools
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

NormLayer = functools.partial(layers.BatchNormalization, momentum=0.1, epsilon=1e-5)


class BasicBlock(layers.Layer):
    def __init__(self, filters, norm_layer=NormLayer, **kwargs):
        super().__init__(**kwargs)
        self.conv1 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn1 = norm_layer()
        self.conv2 = layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn2 = norm_layer()

    def call(self, x, training=None):
        h = keras.ops.relu(self.bn1(self.conv1(x), training=training))
        h = self.bn2(self.conv2(h), training=training)
        return keras.ops.relu(h + x)


def resnet_tiny(num_classes=4, width=6, norm_layer=NormLayer):
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = norm_layer(name="stem_bn")(x)
    x = layers.ReLU()(x)
    x = BasicBlock(width, norm_layer)(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # batches with clearly different scales: a smooth average would sit between them
    x = np.concatenate([rng.normal(size=(16, 8, 8, 3)) * s for s in (1.0, 1.0, 1.0, 4.0)]).astype("float32")
    y = rng.integers(0, 4, size=(64,))
    model = resnet_tiny()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    stem = model.get_layer("stem_bn")
    stem_conv = model.layers[1]
    last_batch_var = keras.ops.convert_to_numpy(keras.ops.var(stem_conv(x[-16:]), axis=(0, 1, 2)))
    moving_var = keras.ops.convert_to_numpy(stem.moving_variance)
    jumped = np.allclose(moving_var, last_batch_var, rtol=0.15)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")


if __name__ == "__main__":
    main()
