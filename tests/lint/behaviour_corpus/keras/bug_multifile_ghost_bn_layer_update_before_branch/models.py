"""build_model(cfg): a small tabular classifier with ghost BN after each dense block."""
import keras

from layers import GhostBatchNorm


def build_model(cfg):
    inputs = keras.Input((cfg["num_features"],))
    h = inputs
    for i, width in enumerate(cfg["widths"]):
        h = keras.layers.Dense(width, name=f"fc{i}")(h)
        h = GhostBatchNorm(cfg["virtual_batch_size"], cfg["bn_momentum"], name=f"gbn{i}")(h)
        h = keras.layers.ReLU()(h)
    outputs = keras.layers.Dense(cfg["num_classes"], name="logits")(h)
    return keras.Model(inputs, outputs)
