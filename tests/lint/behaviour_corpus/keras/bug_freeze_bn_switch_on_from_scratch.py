"""keras-resnet style BatchNormalization subclass with a `freeze` switch meant for fine-tuning
pretrained weights; the training script builds the network from scratch with freeze=True (copied
from the fine-tuning config), so the fresh BN layers never leave their 0/1 statistics."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"freeze_bn": True, "weights": None, "width": 8}


class FreezableBatchNormalization(layers.BatchNormalization):
    def __init__(self, freeze=False, **kwargs):
        super().__init__(**kwargs)
        self.freeze = freeze
        self.trainable = not freeze

    def call(self, inputs, training=None, **kwargs):
        if self.freeze:
            training = False
        return super().call(inputs, training=training, **kwargs)

    def get_config(self):
        return {**super().get_config(), "freeze": self.freeze}


def resnet_stem(inputs, width, freeze_bn):
    x = layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = FreezableBatchNormalization(freeze=freeze_bn, name="stem_bn")(x)
    return layers.ReLU()(x)


def build(config):
    inputs = keras.Input(shape=(8, 8, 3))
    x = resnet_stem(inputs, config["width"], config["freeze_bn"])
    x = layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, layers.Dense(2)(x))
    if config["weights"]:
        model.load_weights(config["weights"])
    return model


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = build(CONFIG)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(rng.normal(2.0, 1.0, (48, 8, 8, 3)).astype("float32"), rng.integers(0, 2, 48),
              batch_size=16, epochs=1, verbose=0)
    bn = model.get_layer("stem_bn")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(bn.moving_mean, 0) else "updated")
