"""build_model(cfg): the small tabular classifier used by every experiment of the project."""
import keras
from keras import layers


def mlp_block(x, width, name):
    x = layers.Dense(width, use_bias=False, name=f"{name}_dense")(x)
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_act")(x)


def build_model(cfg):
    inputs = keras.Input((cfg["num_features"],), name="features")
    x = mlp_block(inputs, cfg["width"], "block1")
    outputs = layers.Dense(cfg["num_classes"], name="logits")(x)
    return keras.Model(inputs, outputs, name=cfg["arch"])
