"""Keras port of a PyTorch segmentation stem. The PyTorch blocks used nn.BatchNorm2d(c, affine=False)
(no learnable scale/shift); the port translates `affine` into center=/scale=, which drops gamma and
beta but leaves the layer trainable: fit() normalises with batch statistics and updates the moving
statistics."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

STEM_CFG = [
    # (filters, affine) -- copied from the PyTorch model definition
    (8, False),
    (16, False),
]


class ConvBNAct(keras.layers.Layer):
    """Conv -> BN -> ReLU, mirroring torch's ConvBNReLU(in, out, affine=...)."""

    def __init__(self, filters, affine=True, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, center=affine, scale=affine)
        self.act = keras.layers.ReLU()

    def call(self, x, training=None):
        return self.act(self.bn(self.conv(x), training=training))


class TinySegNet(keras.Model):
    def __init__(self, num_classes=3, **kwargs):
        super().__init__(**kwargs)
        self.stem = [ConvBNAct(f, affine=a, name=f"stem{i}") for i, (f, a) in enumerate(STEM_CFG)]
        self.classifier = keras.layers.Conv2D(num_classes, 1)

    def call(self, x, training=None):
        for block in self.stem:
            x = block(x, training=training)
        return self.classifier(x)


def main():
    rng = np.random.default_rng(0)
    images = (rng.normal(size=(64, 8, 8, 3)) * 2 + 3).astype("float32")
    masks = rng.integers(0, 3, size=(64, 8, 8))
    model = TinySegNet()
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(images[:48], masks[:48], batch_size=16, epochs=2, verbose=0)
    val_loss = model.evaluate(images[48:], masks[48:], batch_size=16, verbose=0)
    print(f"validation loss {val_loss:.3f}")
    moving_mean = np.asarray(model.stem[0].bn.moving_mean)
    moving_var = np.asarray(model.stem[0].bn.moving_variance)
    frozen = np.allclose(moving_mean, 0.0) and np.allclose(moving_var, 1.0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
