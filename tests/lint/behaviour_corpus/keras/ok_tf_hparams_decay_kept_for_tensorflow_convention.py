"""Keras 3 re-implementation of a TF-slim model zoo entry. The hyper-parameters are copied from the slim
config (batch_norm_decay / batch_norm_epsilon, TensorFlow convention) and go through a shared
bn_kwargs() helper of the project's port utilities before every BatchNormalization is built."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

SLIM_HPARAMS = {
    "convention": "tensorflow",
    "batch_norm_decay": 0.9,
    "batch_norm_epsilon": 1e-3,
    "weight_decay": 4e-5,
    "depth": 8,
}


def bn_kwargs(hparams):
    """Normalisation keyword arguments for keras.layers.BatchNormalization."""
    decay = hparams["batch_norm_decay"]
    if hparams["convention"] == "pytorch":
        decay = 1.0 - decay
    return {"momentum": decay, "epsilon": hparams["batch_norm_epsilon"]}


def conv_bn(x, filters, hparams, name):
    x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv",
                      kernel_regularizer=keras.regularizers.l2(hparams["weight_decay"]))(x)
    x = layers.BatchNormalization(name=f"{name}_bn", **bn_kwargs(hparams))(x)
    return layers.ReLU()(x)


def build(hparams, num_classes=4):
    inputs = keras.Input((8, 8, 3))
    x = conv_bn(inputs, hparams["depth"], hparams, "block1")
    x = conv_bn(x, hparams["depth"], hparams, "block2")
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    # the last batch has a clearly larger scale: a smooth average stays well below its variance
    x = np.concatenate([rng.normal(size=(16, 8, 8, 3)) * s for s in (1.0, 1.0, 1.0, 4.0)]).astype("float32")
    y = rng.integers(0, 4, size=64)
    model = build(SLIM_HPARAMS)
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    conv, bn = model.get_layer("block1_conv"), model.get_layer("block1_bn")
    last_batch_var = keras.ops.convert_to_numpy(keras.ops.var(conv(x[-16:]), axis=(0, 1, 2)))
    moving_var = keras.ops.convert_to_numpy(bn.moving_variance)
    jumped = np.allclose(moving_var, last_batch_var, rtol=0.15)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")


if __name__ == "__main__":
    main()
