"""tf.keras (legacy) model trained with fit() in TF1 graph mode: Keras wires the BN updates itself."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()

if __name__ == "__main__":
    model = tf.keras.Sequential([tf.keras.layers.Dense(6, input_shape=(4,)), tf.keras.layers.BatchNormalization(),
                                 tf.keras.layers.Activation("relu"), tf.keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    rng = np.random.RandomState(0)
    model.fit(rng.randn(32, 4) + 2, rng.randn(32, 1), batch_size=8, epochs=1, verbose=0)
    moving = tf.keras.backend.get_value(model.layers[1].moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(moving, 0) else "frozen")
