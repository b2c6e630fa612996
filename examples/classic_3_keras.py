"""Classic example 3 (clean): Keras ``fit`` runs BatchNormalization in training mode and
``predict`` in inference mode by itself.

Run: ``python examples/classic_3_keras.py`` (TensorFlow 2.x).
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def main(epochs: int = 2, seed: int = 0):
    """Fit a tiny model; return (moving mean of the BN layer, predictions)."""
    rng = np.random.default_rng(seed)
    x_train = rng.normal(5.0, 3.0, size=(256, 10)).astype("float32")
    y_train = rng.normal(size=(256, 5)).astype("float32")
    x_test = rng.normal(5.0, 3.0, size=(8, 10)).astype("float32")

    model = tf.keras.Sequential([
        tf.keras.layers.BatchNormalization(input_shape=(10,)),
        tf.keras.layers.Dense(units=5)
    ])

    # Training
    model.compile(optimizer='adam', loss='mse')
    model.fit(x_train, y_train, epochs=epochs, verbose=0)

    # Inference
    predictions = model.predict(x_test, verbose=0)
    return model.layers[0].moving_mean.numpy(), predictions


if __name__ == "__main__":
    mean, _ = main()
    print("moving_mean after training:", mean)
