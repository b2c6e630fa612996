"""Backbone + head definitions; create_model(name, cfg) is the registry entry point."""
import keras
from keras import layers


def _small_cnn(cfg):
    inputs = keras.Input(cfg["image_shape"])
    x = layers.Conv2D(cfg["width"], 3, padding="same", use_bias=False, name="conv1")(inputs)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(cfg["num_classes"], name="fc")(x)
    return keras.Model(inputs, outputs, name="small_cnn")


MODELS = {"small_cnn": _small_cnn}


def create_model(name, cfg):
    return MODELS[name](cfg)
