"""tf.keras (TF1 graph mode) script that sets learning phase 0 at start-up, then trains."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
K = tf.keras.backend
K.set_learning_phase(0)


def make_model():
    inp = tf.keras.Input((5,))
    h = tf.keras.layers.Dense(6)(inp)
    h = tf.keras.layers.BatchNormalization(name="bn")(h)
    return tf.keras.Model(inp, tf.keras.layers.Dense(1)(h))


if __name__ == "__main__":
    model = make_model()
    model.compile("sgd", "mse")
    rng = np.random.RandomState(0)
    bn = model.get_layer("bn")
    start = K.get_value(bn.moving_mean)
    model.fit(rng.randn(32, 5) + 3, rng.randn(32, 1), epochs=1, batch_size=8, verbose=0)
    end = K.get_value(bn.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(start, end) else "updated")
