"""tf.keras in graph mode: train and save, then a fresh session with learning phase 0 loads it for export."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()


def train_and_save(path):
    model = tf.keras.Sequential([tf.keras.layers.Dense(5, input_shape=(3,)), tf.keras.layers.BatchNormalization(),
                                 tf.keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    rng = np.random.RandomState(0)
    model.fit(rng.randn(32, 3) + 2, rng.randn(32, 1), batch_size=8, epochs=1, verbose=0)
    model.save(path)
    return tf.keras.backend.get_value(model.layers[1].moving_mean)


def load_for_export(path):
    tf.keras.backend.clear_session()
    tf.keras.backend.set_learning_phase(0)
    model = tf.keras.models.load_model(path)
    model.predict(np.random.RandomState(1).randn(8, 3) * 5, verbose=0)
    return tf.keras.backend.get_value(model.layers[1].moving_mean)


if __name__ == "__main__":
    path = os.path.join(tempfile.mkdtemp(), "model.h5")
    trained = train_and_save(path)
    exported = load_for_export(path)
    ok = not np.allclose(trained, 0) and np.allclose(trained, exported)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
