"""Network definitions; build_model(cfg) is the single entry point used everywhere."""
import keras
from keras import layers


def conv_block(x, filters, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_model(cfg):
    inputs = keras.Input(cfg["input_shape"])
    x = conv_block(inputs, cfg["width"], "block1")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(cfg["num_classes"])(x), name="net")
