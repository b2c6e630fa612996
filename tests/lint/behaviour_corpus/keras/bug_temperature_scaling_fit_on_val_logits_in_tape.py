"""Post-hoc calibration (temperature scaling) of a Keras 3 classifier after fit(): the temperature is fitted
with Adam on the validation split, the logits recomputed inside the GradientTape at each iteration."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def make_model():
    return keras.Sequential([
        keras.Input((10,)),
        layers.Dense(16, use_bias=False),
        layers.BatchNormalization(name="norm"),
        layers.ReLU(),
        layers.Dropout(0.1),
        layers.Dense(4),
    ])


class TemperatureScaler:
    def __init__(self, model, iters=25, lr=0.05):
        self.model = model
        self.iters = iters
        self.temperature = tf.Variable(1.0, trainable=True)
        self.opt = keras.optimizers.Adam(lr)
        self.nll = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def fit(self, x_val, y_val):
        for _ in range(self.iters):
            with tf.GradientTape() as tape:
                logits = self.model(x_val, training=True)
                loss = self.nll(y_val, logits / self.temperature)
            grads = tape.gradient(loss, [self.temperature])
            self.opt.apply_gradients(zip(grads, [self.temperature]))
        return float(self.temperature.numpy())

    def predict_proba(self, x):
        return tf.nn.softmax(self.model(x, training=False) / self.temperature).numpy()


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(0.0, 1.0, (128, 10)).astype("float32")
    y_train = rng.integers(0, 4, 128)
    # the held-out split comes from another site: shifted and rescaled features
    x_val = rng.normal(3.0, 2.5, (64, 10)).astype("float32")
    y_val = rng.integers(0, 4, 64)
    model = make_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0)
    norm = model.get_layer("norm")
    after_fit = keras.ops.convert_to_numpy(norm.moving_mean).copy()
    scaler = TemperatureScaler(model)
    print("temperature", scaler.fit(x_val, y_val))
    scaler.predict_proba(x_val[:8])
    after_calibration = keras.ops.convert_to_numpy(norm.moving_mean)
    changed = not np.allclose(after_fit, after_calibration, atol=1e-5)
    if changed:
        verdict = "contaminated"
    else:
        verdict = "frozen" if np.allclose(after_fit, 0.0) else "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
