"""Model ported from PyTorch: a BatchNorm subclass hard-wires PyTorch's defaults (momentum=0.1,
eps=1e-5). In Keras momentum is the weight of the OLD value, so the moving mean follows the last batch."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class TorchBatchNorm(layers.BatchNormalization):
    """BatchNorm2d equivalent so the converted state_dict lines up."""

    def __init__(self, **kwargs):
        super().__init__(momentum=0.1, epsilon=1e-5, **kwargs)


def conv_block(x, filters, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = TorchBatchNorm(name=f"{name}_bn")(x)
    return layers.ReLU()(x)


def build(num_classes=3):
    inputs = keras.Input(shape=(8, 8, 3))
    x = conv_block(inputs, 8, "block1")
    x = conv_block(x, 8, "block2")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = build()
    model.compile(keras.optimizers.SGD(1e-4), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    shifts = [0.0, 0.0, 5.0]  # last batch comes from a shifted distribution
    xs = np.concatenate([rng.normal(s, 1.0, (16, 8, 8, 3)) for s in shifts]).astype("float32")
    ys = rng.integers(0, 3, len(xs))
    model.fit(xs, ys, batch_size=16, epochs=1, shuffle=False, verbose=0)
    conv = model.get_layer("block1_conv")
    last_batch_mean = np.array(conv(xs[-16:])).mean(axis=(0, 1, 2))
    moving = np.array(model.get_layer("block1_bn").moving_mean)
    jumped = np.allclose(moving, last_batch_mean, rtol=0.15, atol=0.05)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")
