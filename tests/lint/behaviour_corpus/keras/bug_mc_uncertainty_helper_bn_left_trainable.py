"""Keras 3 regression model with dropout, trained with fit(). After training, a deployment script
scores a new (shifted) batch of sensor readings with predict_with_uncertainty(): prepare_for_mc()
readies the model, then n stochastic forward passes with dropout active give a mean and a spread."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"epochs": 3, "batch_size": 32, "lr": 5e-3, "dropout": 0.2, "mc_samples": 10}


def build_regressor(cfg):
    inputs = keras.Input((12,))
    x = layers.Dense(16, use_bias=False)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU()(x)
    x = layers.Dropout(cfg["dropout"])(x)
    return keras.Model(inputs, layers.Dense(1)(x))


def prepare_for_mc(model):
    for layer in model.layers:
        if isinstance(layer, layers.Dropout):
            layer.trainable = True
    return model


def predict_with_uncertainty(model, x, samples):
    model = prepare_for_mc(model)
    draws = np.stack([keras.ops.convert_to_numpy(model(x, training=True)) for _ in range(samples)])
    return draws.mean(axis=0), draws.std(axis=0)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = (rng.normal(size=(256, 12)) + 1.0).astype("float32")
    y_train = x_train[:, :3].sum(axis=1, keepdims=True)
    model = build_regressor(CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(CONFIG["lr"]), loss="mse")
    model.fit(x_train, y_train, batch_size=CONFIG["batch_size"], epochs=CONFIG["epochs"], verbose=0)
    bn = model.get_layer("bn")
    trained_mean = keras.ops.convert_to_numpy(bn.moving_mean).copy()

    x_field = (rng.normal(size=(64, 12)) * 2.0 + 5.0).astype("float32")
    mean, spread = predict_with_uncertainty(model, x_field, CONFIG["mc_samples"])
    print("mean prediction", float(mean.mean()), "mean spread", float(spread.mean()))
    after_mean = keras.ops.convert_to_numpy(bn.moving_mean)
    print("moving_mean after fit", np.round(trained_mean, 3))
    print("moving_mean after MC", np.round(after_mean, 3))
    if np.allclose(trained_mean, 0.0):
        verdict = "frozen"
    elif not np.allclose(after_mean, trained_mean, atol=1e-6):
        verdict = "contaminated"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
