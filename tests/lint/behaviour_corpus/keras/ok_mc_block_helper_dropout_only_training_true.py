"""Keras 3 functional regressor with Monte-Carlo dropout for uncertainty estimates. A block helper
dense_block(x, units, mc=True) wires its Dropout with `training=mc` (always-on dropout, on
purpose) and leaves the BatchNormalization call without a mode: fit() trains it, and the MC passes
(direct model(x) calls) on the deployment data run it with the moving statistics and leave them
untouched."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

SETTINGS = {"units": (32, 16), "dropout": 0.2, "mc_samples": 8, "epochs": 4, "batch_size": 16}


def dense_block(x, units, rate, mc=True, name=None):
    x = layers.Dense(units, use_bias=False, name=f"{name}_dense")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    x = layers.Activation("relu")(x)
    return layers.Dropout(rate, name=f"{name}_drop")(x, training=mc)


def build_regressor(units, rate):
    inputs = keras.Input((6,))
    x = inputs
    for i, u in enumerate(units):
        x = dense_block(x, u, rate, name=f"block{i}")
    return keras.Model(inputs, layers.Dense(1)(x))


def mc_predict(model, x, samples):
    # direct calls keep the always-on dropout of the graph (predict() would switch it off)
    draws = np.stack([keras.ops.convert_to_numpy(model(x)) for _ in range(samples)])
    return draws.mean(0), draws.std(0)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(1.0, 1.0, (128, 6)).astype("float32")
    y_train = (x_train @ rng.normal(size=(6, 1))).astype("float32")
    x_deploy = rng.normal(4.0, 2.0, (64, 6)).astype("float32")

    model = build_regressor(SETTINGS["units"], SETTINGS["dropout"])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(x_train, y_train, epochs=SETTINGS["epochs"], batch_size=SETTINGS["batch_size"], verbose=0)
    bn = model.get_layer("block0_bn")
    after_fit = keras.ops.convert_to_numpy(bn.moving_mean).copy()

    mean, std = mc_predict(model, x_deploy, SETTINGS["mc_samples"])
    print(f"mean prediction {mean.mean():.3f}, mean MC std {std.mean():.3f}")
    after_predict = keras.ops.convert_to_numpy(bn.moving_mean)
    if np.allclose(after_fit, 0.0):
        verdict = "frozen"
    elif not np.allclose(after_predict, after_fit):
        verdict = "contaminated"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
