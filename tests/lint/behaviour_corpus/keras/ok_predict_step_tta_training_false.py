"""Keras 3 model with test-time augmentation in an overridden `predict_step`: the flipped and the
original inputs are averaged. Both forwards use `training=False` (the flip is done by hand, no
augmentation layer needs training mode): `predict()` reads the trained moving statistics and leaves them
unchanged."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers, ops  # noqa: E402


class TTAModel(keras.Model):
    """Averages the predictions on the input and on its mirror image."""

    def predict_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        probs = ops.softmax(self(x, training=False))
        probs_flipped = ops.softmax(self(ops.flip(x, axis=2), training=False))
        return (probs + probs_flipped) / 2.0


def build_model(num_classes=3):
    inputs = keras.Input((8, 8, 1))
    x = layers.Conv2D(4, 3, padding="same")(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.Activation("relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    outputs = layers.Dense(num_classes)(x)
    return TTAModel(inputs, outputs)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = build_model()
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(rng.normal(0, 1, (48, 8, 8, 1)).astype("float32"), rng.integers(0, 3, 48),
              batch_size=16, epochs=1, verbose=0)
    bn = model.get_layer("bn")
    trained = np.array(bn.moving_mean)
    model.predict(rng.normal(5, 2, (32, 8, 8, 1)).astype("float32"), batch_size=16, verbose=0)
    kept = np.allclose(trained, np.array(bn.moving_mean))
    print("BN-GROUND-TRUTH:", "updated" if kept and not np.allclose(trained, 0) else "contaminated")
