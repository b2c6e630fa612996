"""Keras 3 domain fine-tune ported from a PyTorch recipe. Stage 1 fits the whole model on the source
domain. Stage 2 fine-tunes on a small, shifted target set: the stem convolution is frozen and
freeze_bn_statistics() keeps the normalisation statistics of the source domain while the BN affine
parameters and the head still train (the recipe's `bn.momentum = 0.0` step)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

RECIPE = {"source_epochs": 2, "target_epochs": 1, "batch_size": 16, "lr": 1e-2, "freeze_bn_momentum": 0.0}


def build_model():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(6, 3, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(4, name="head")(x))


def freeze_bn_statistics(model, momentum):
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = momentum


def compile_model(model):
    model.compile(optimizer=keras.optimizers.SGD(RECIPE["lr"], momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_src = (rng.normal(size=(128, 8, 8, 3)) + 2.0).astype("float32")
    y_src = rng.integers(0, 4, size=128)
    x_tgt = (rng.normal(size=(48, 8, 8, 3)) * 3.0 - 1.0).astype("float32")
    y_tgt = rng.integers(0, 4, size=48)

    model = build_model()
    compile_model(model)
    model.fit(x_src, y_src, batch_size=RECIPE["batch_size"], epochs=RECIPE["source_epochs"], verbose=0)
    bn = model.get_layer("stem_bn")
    source_mean = keras.ops.convert_to_numpy(bn.moving_mean).copy()

    model.get_layer("stem_conv").trainable = False
    freeze_bn_statistics(model, RECIPE["freeze_bn_momentum"])
    compile_model(model)
    model.fit(x_tgt, y_tgt, batch_size=RECIPE["batch_size"], epochs=RECIPE["target_epochs"], shuffle=False,
              verbose=0)
    final_mean = keras.ops.convert_to_numpy(bn.moving_mean)

    stem = keras.Model(model.input, model.get_layer("stem_conv").output)
    last_batch = x_tgt[-RECIPE["batch_size"]:]
    last_batch_mean = keras.ops.convert_to_numpy(stem(last_batch)).mean(axis=(0, 1, 2))
    print("source moving_mean", np.round(source_mean, 3))
    print("after target stage", np.round(final_mean, 3), "last target batch mean", np.round(last_batch_mean, 3))
    if np.allclose(final_mean, source_mean, atol=1e-6):
        verdict = "frozen-by-design"
    elif np.allclose(final_mean, last_batch_mean, atol=1e-4):
        verdict = "jumped"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
