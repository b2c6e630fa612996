"""Keras 3 fit() with a weight-averaging callback: the shadow model is a keras.models.clone_model copy
updated after every batch (averaged trainable weights, copied moving statistics); evaluation uses the shadow."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"decay": 0.9, "epochs": 2, "batch_size": 16, "lr": 1e-2}


def build_classifier(num_classes=3):
    inputs = keras.Input((8, 8, 2))
    x = layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="bn_stem")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, layers.Dense(num_classes)(x))


class WeightAverager(keras.callbacks.Callback):
    def __init__(self, decay):
        super().__init__()
        self.decay = decay
        self.shadow = None

    def on_train_begin(self, logs=None):
        self.shadow = keras.models.clone_model(self.model)
        self.shadow.build(self.model.input_shape)

    def on_train_batch_end(self, batch, logs=None):
        d = self.decay
        for avg, live in zip(self.shadow.weights, self.model.weights):
            avg.assign(d * avg + (1.0 - d) * live if live.trainable else live)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(96, 8, 8, 2)) * 2.0 + 3.0).astype("float32")
    y = rng.integers(0, 3, size=96)
    model = build_classifier()
    model.compile(optimizer=keras.optimizers.Adam(CONFIG["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    averager = WeightAverager(CONFIG["decay"])
    model.fit(x, y, batch_size=CONFIG["batch_size"], epochs=CONFIG["epochs"], callbacks=[averager], verbose=0)
    shadow = averager.shadow
    shadow.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    print("shadow eval", shadow.evaluate(x, y, verbose=0))
    live_mean = keras.ops.convert_to_numpy(model.get_layer("bn_stem").moving_mean)
    used_mean = keras.ops.convert_to_numpy(shadow.get_layer("bn_stem").moving_mean)
    if np.allclose(used_mean, 0.0) and not np.allclose(live_mean, 0.0):
        verdict = "stale"
    else:
        verdict = "updated" if np.allclose(used_mean, live_mean, atol=1e-4) else "diverged"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
