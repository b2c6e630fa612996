"""Keras 3 port of a PyTorch training recipe: the hyper-parameters come from the recipe's JSON config and a
set_bn_momentum() helper converts the value and walks the model (a keras.Sequential stem nested in a functional model) after it is built."""
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

RECIPE = """
{
  "optimizer": {"name": "adam", "lr": 0.001},
  "model": {"width": 6, "num_classes": 4},
  "bn_momentum": 0.1,
  "batch_size": 16,
  "epochs": 1
}
"""


def iter_layers(layer):
    yield layer
    for sub in getattr(layer, "layers", []):
        yield from iter_layers(sub)


def set_bn_momentum(model, momentum):
    # PyTorch weighs the new batch by `momentum`, Keras weighs the running average by it
    for layer in iter_layers(model):
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = 1.0 - momentum


def build_model(width, num_classes):
    stem = keras.Sequential([
        layers.Conv2D(width, 3, padding="same", use_bias=False),
        layers.BatchNormalization(),
        layers.ReLU(),
    ], name="stem")
    inputs = keras.Input((8, 8, 3))
    x = stem(inputs)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization()(x)
    x = layers.GlobalAveragePooling2D()(layers.ReLU()(x))
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def main():
    cfg = json.loads(RECIPE)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # the last batch has a clearly larger scale: a smooth average stays well below its variance
    x = np.concatenate([rng.normal(size=(16, 8, 8, 3)) * s for s in (1.0, 1.0, 1.0, 4.0)]).astype("float32")
    y = rng.integers(0, cfg["model"]["num_classes"], size=64)
    model = build_model(**cfg["model"])
    set_bn_momentum(model, cfg["bn_momentum"])
    model.compile(optimizer=keras.optimizers.Adam(cfg["optimizer"]["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=cfg["batch_size"], epochs=cfg["epochs"], shuffle=False, verbose=0)
    stem = model.get_layer("stem")
    conv, bn = stem.layers[0], stem.layers[1]
    last_batch_var = keras.ops.convert_to_numpy(keras.ops.var(conv(x[-16:]), axis=(0, 1, 2)))
    moving_var = keras.ops.convert_to_numpy(bn.moving_variance)
    jumped = np.allclose(moving_var, last_batch_var, rtol=0.15)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")


if __name__ == "__main__":
    main()
