"""Subclassed Keras 3 model whose call() signature defaults to training=None and forwards it to its
BatchNormalization. fit() passes training=True, and the batched scoring helper that calls model(x)
directly gets the inference default: the held-out set is normalised with the moving statistics
and does not change them."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HPARAMS = {"hidden": 16, "epochs": 2, "batch_size": 32, "lr": 5e-3}


class ChurnModel(keras.Model):
    def __init__(self, hidden, **kwargs):
        super().__init__(**kwargs)
        self.proj = layers.Dense(hidden, use_bias=False)
        self.norm = layers.BatchNormalization()
        self.act = layers.Activation("relu")
        self.out = layers.Dense(1, activation="sigmoid")

    def call(self, inputs, training=None):
        h = self.proj(inputs)
        h = self.norm(h, training=training)
        return self.out(self.act(h))


def load_tables(rng):
    x_train = rng.normal(0.0, 1.0, (256, 9)).astype("float32")
    y_train = (x_train[:, 0] + x_train[:, 1] > 0).astype("float32")
    x_test = rng.normal(2.0, 1.5, (96, 9)).astype("float32")
    return x_train, y_train, x_test


def score_in_batches(model, x, batch_size=32):
    return np.concatenate([np.asarray(model(x[i:i + batch_size])) for i in range(0, len(x), batch_size)])


def main():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    x_train, y_train, x_test = load_tables(rng)
    model = ChurnModel(HPARAMS["hidden"])
    model.compile(optimizer=keras.optimizers.Adam(HPARAMS["lr"]), loss="binary_crossentropy")
    model.fit(x_train, y_train, epochs=HPARAMS["epochs"], batch_size=HPARAMS["batch_size"], verbose=0)
    fitted = keras.ops.convert_to_numpy(model.norm.moving_mean)
    scores = score_in_batches(model, x_test)
    print("mean churn score", float(scores.mean()))
    drift = float(np.abs(keras.ops.convert_to_numpy(model.norm.moving_mean) - fitted).max())
    trained = float(np.abs(fitted).max()) > 1e-6
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else ("updated" if trained else "frozen"))


if __name__ == "__main__":
    main()
