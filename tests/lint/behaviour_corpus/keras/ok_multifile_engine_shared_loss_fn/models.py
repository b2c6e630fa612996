"""Model zoo of the project: build_model(cfg) returns a small functional CNN."""
import keras
from keras import layers


def build_model(cfg):
    inputs = keras.Input(cfg["input_shape"])
    x = layers.Conv2D(cfg["width"], 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(cfg["num_classes"], name="classifier")(x)
    return keras.Model(inputs, outputs, name=cfg["arch"])
