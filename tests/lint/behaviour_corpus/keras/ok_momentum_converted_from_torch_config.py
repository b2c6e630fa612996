"""Keras port of a PyTorch model config: the PyTorch BN momentum (0.1, weight of the new batch) is
converted to Keras' convention (weight of the old value) with 1 - momentum before building the
layers, so the moving statistics are a smooth average."""
import os
from dataclasses import dataclass

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


@dataclass
class TorchBNConfig:
    momentum: float = 0.1  # as in torch.nn.BatchNorm2d
    eps: float = 1e-5


def keras_bn_kwargs(cfg: TorchBNConfig) -> dict:
    return {"momentum": 1.0 - cfg.momentum, "epsilon": cfg.eps}


def build_model(cfg: TorchBNConfig):
    bn = keras_bn_kwargs(cfg)
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="bn1", **bn)(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(2)(x))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=(16, 8, 8, 3)) * s for s in (1.0, 1.0, 1.0, 4.0)]).astype("float32")
    y = rng.integers(0, 2, size=64)
    model = build_model(TorchBNConfig())
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    bn = model.get_layer("bn1")
    conv = model.layers[1]
    last_batch_var = keras.ops.convert_to_numpy(keras.ops.var(conv(x[-16:]), axis=(0, 1, 2)))
    moving_var = keras.ops.convert_to_numpy(bn.moving_variance)
    smooth = not np.allclose(moving_var, last_batch_var, rtol=0.15) and not np.allclose(moving_var, 1.0)
    print("BN-GROUND-TRUTH:", "smooth-average" if smooth else "jumped")


if __name__ == "__main__":
    main()
