"""Classifier assembled functionally around a feature-extractor sub-model; the extractor call in the
graph leaves its mode to the caller, then held-out data is scored by a
batched helper that calls the model directly."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"in_dim": 5, "width": 8, "classes": 3, "lr": 1e-2, "epochs": 2, "batch": 16}


def feature_extractor(cfg):
    inp = keras.Input((cfg["in_dim"],))
    h = layers.Dense(cfg["width"])(inp)
    h = layers.BatchNormalization(name="feat_bn")(h)
    return keras.Model(inp, layers.ReLU()(h), name="extractor")


def classifier(cfg):
    extractor = feature_extractor(cfg)
    inputs = keras.Input((cfg["in_dim"],))
    feats = extractor(inputs)  # the mode follows the caller
    logits = layers.Dense(cfg["classes"])(feats)
    return keras.Model(inputs, logits), extractor


def score(model, x, y, batch):
    hits = 0
    for i in range(0, len(x), batch):
        logits = model(x[i:i + batch])
        hits += int(np.sum(np.argmax(np.asarray(logits), axis=1) == y[i:i + batch]))
    return hits / len(x)


if __name__ == "__main__":
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(1.0, 1.0, (64, CONFIG["in_dim"])).astype("float32")
    y_train = rng.integers(0, CONFIG["classes"], 64)
    x_test = rng.normal(6.0, 2.0, (32, CONFIG["in_dim"])).astype("float32")
    y_test = rng.integers(0, CONFIG["classes"], 32)
    model, extractor = classifier(CONFIG)
    model.compile(optimizer=keras.optimizers.Adam(CONFIG["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    bn = extractor.get_layer("feat_bn")
    start = np.array(bn.moving_mean)
    model.fit(x_train, y_train, epochs=CONFIG["epochs"], batch_size=CONFIG["batch"], verbose=0)
    trained = np.array(bn.moving_mean)
    score(model, x_test, y_test, CONFIG["batch"])
    after = np.array(bn.moving_mean)
    if np.abs(trained - start).max() < 1e-4:
        verdict = "frozen"
    elif np.abs(after - trained).max() > 1e-4:
        verdict = "contaminated"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)
