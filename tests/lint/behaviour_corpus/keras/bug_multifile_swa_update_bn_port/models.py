"""Model factory: build_model(cfg) returns the small tabular classifier used by every script."""
import keras
from keras import layers


def build_model(cfg):
    inputs = keras.Input((cfg["num_features"],), name="features")
    x = layers.Dense(cfg["hidden"], use_bias=False, name="fc1")(inputs)
    x = layers.BatchNormalization(name="bn1")(x)
    x = layers.ReLU()(x)
    outputs = layers.Dense(cfg["num_classes"], name="head")(x)
    return keras.Model(inputs, outputs, name=cfg["arch"])
