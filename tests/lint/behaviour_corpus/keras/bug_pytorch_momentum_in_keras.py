"""A model ported from PyTorch: momentum=0.1 copied into Keras BatchNormalization."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HPARAMS = {"bn_momentum": 0.1, "bn_eps": 1e-5}


def make_model(hp):
    return keras.Sequential([
        keras.Input((4,)),
        keras.layers.Dense(6, use_bias=False),
        keras.layers.BatchNormalization(momentum=hp["bn_momentum"], epsilon=hp["bn_eps"]),
        keras.layers.Activation("relu"),
        keras.layers.Dense(1),
    ])


if __name__ == "__main__":
    model = make_model(HPARAMS)
    model.compile("sgd", "mse")
    rng = np.random.default_rng(0)
    xs = [rng.normal(i, 1, (16, 4)).astype("float32") for i in range(3)]
    for x in xs:
        model.train_on_batch(x, np.zeros((16, 1), "float32"))
    bn = model.layers[1]
    last_mean = np.asarray(model.layers[0](xs[-1])).mean(0)
    gap = np.abs(np.array(bn.moving_mean) - last_mean).max()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.15 * np.abs(last_mean).max() else "updated")
