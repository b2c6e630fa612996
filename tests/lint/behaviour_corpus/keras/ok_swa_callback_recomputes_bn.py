"""Keras 3 stochastic weight averaging as a callback: weights are averaged at each epoch end and,
at the end of training, swapped into the model; the callback then re-estimates
BatchNormalization's moving statistics for the averaged weights by resetting them and running
self.model(x, training=True) over the training data (momentum temporarily 0 for one full-data
pass). Calling the model in training mode outside fit() is the point here."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class SWA(keras.callbacks.Callback):
    def __init__(self, x_train, start_epoch=1):
        super().__init__()
        self.x_train = x_train
        self.start_epoch = start_epoch
        self.swa_weights = None
        self.n_models = 0

    def on_epoch_end(self, epoch, logs=None):
        if epoch < self.start_epoch:
            return
        current = [np.array(w) for w in self.model.trainable_weights]
        if self.swa_weights is None:
            self.swa_weights = current
        else:
            self.swa_weights = [(s * self.n_models + c) / (self.n_models + 1)
                                for s, c in zip(self.swa_weights, current)]
        self.n_models += 1

    def on_train_end(self, logs=None):
        for var, value in zip(self.model.trainable_weights, self.swa_weights):
            var.assign(value)
        self.recompute_bn()

    def recompute_bn(self):
        bns = [layer for layer in self.model.layers if isinstance(layer, layers.BatchNormalization)]
        saved = [bn.momentum for bn in bns]
        for bn in bns:
            bn.momentum = 0.0
        self.model(self.x_train, training=True)
        for bn, momentum in zip(bns, saved):
            bn.momentum = momentum


def build_model():
    inputs = keras.Input((5,))
    x = layers.Dense(12, use_bias=False, name="features")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, layers.Dense(1)(x))


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(2, 1, (64, 5)).astype("float32")
    y = rng.normal(0, 1, (64, 1)).astype("float32")
    model = build_model()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[SWA(x)])
    target = np.asarray(model.get_layer("features")(x)).mean(0)
    gap = np.abs(np.asarray(model.get_layer("bn").moving_mean) - target).max()
    print("BN-GROUND-TRUTH:", "recalibrated" if gap < 1e-3 else "stale")


if __name__ == "__main__":
    main()
