"""Keras 3 regression with an uncertainty-logging callback: at every epoch end the callback runs
Monte-Carlo dropout on a held-out batch with self.model(x, training=True). training=True turns on
Dropout - and BatchNormalization, which assigns new moving statistics from the held-out batch on
every stochastic pass: the model fit() hands back carries statistics of the validation data."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class MCDropoutUncertainty(keras.callbacks.Callback):
    def __init__(self, x_holdout, samples=5):
        super().__init__()
        self.x_holdout = x_holdout
        self.samples = samples
        self.history = []

    def on_epoch_end(self, epoch, logs=None):
        preds = np.stack([np.asarray(self.model(self.x_holdout, training=True)) for _ in range(self.samples)])
        self.history.append(float(preds.std(0).mean()))
        print(f"epoch {epoch}: predictive std {self.history[-1]:.4f}")


def build_model(input_dim=6):
    inputs = keras.Input((input_dim,))
    x = layers.Dense(16, use_bias=False)(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.Activation("relu")(x)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(1)(x))


def main():
    rng = np.random.default_rng(0)
    x_train = rng.normal(0, 1, (64, 6)).astype("float32")
    y_train = rng.normal(0, 1, (64, 1)).astype("float32")
    x_holdout = rng.normal(4, 3, (32, 6)).astype("float32")
    model = build_model()
    model.compile(optimizer="adam", loss="mse")
    bn = model.get_layer(index=2)
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append(np.array(bn.moving_mean))

    model.fit(x_train, y_train, batch_size=16, epochs=2, verbose=0,
              callbacks=[Snapshot(), MCDropoutUncertainty(x_holdout)])
    moved = not np.allclose(np.array(bn.moving_mean), snapshots[-1])
    print("BN-GROUND-TRUTH:", "contaminated" if moved else "updated")


if __name__ == "__main__":
    main()
