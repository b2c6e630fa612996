"""ConvNet ported from the reference PyTorch implementation.

The port keeps the PyTorch-style train()/eval() switches so the engine code could be kept as is:
a call without an explicit `training` argument follows the mode set by the last train()/eval().
"""
import keras
from keras import layers


class ConvNet(keras.Model):
    def __init__(self, num_classes=3, width=8, **kwargs):
        super().__init__(**kwargs)
        self.conv = layers.Conv2D(width, 3, padding="same", use_bias=False)
        self.norm = layers.BatchNormalization()
        self.pool = layers.GlobalAveragePooling2D()
        self.fc = layers.Dense(num_classes)
        self.is_train_mode = True

    def train(self, mode=True):
        self.is_train_mode = mode
        return self

    def eval(self):
        return self.train(False)

    def call(self, x, training=None):
        if training is None:
            training = self.is_train_mode
        h = self.norm(self.conv(x), training=training)
        return self.fc(self.pool(keras.ops.relu(h)))


def build_model(cfg):
    return ConvNet(num_classes=cfg["num_classes"], width=cfg["width"], name=cfg["arch"])
