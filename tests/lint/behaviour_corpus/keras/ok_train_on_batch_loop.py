"""Manual epoch loop with train_on_batch / test_on_batch and a best-weights checkpoint (Keras 3)."""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def batches(x, y, size):
    for i in range(0, len(x), size):
        yield x[i:i + size], y[i:i + size]


def main(epochs=2):
    rng = np.random.default_rng(0)
    model = keras.Sequential([keras.Input((7,)), layers.Dense(10), layers.BatchNormalization(name="bn"),
                              layers.ReLU(), layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    x_train, y_train = rng.normal(2, 1, (48, 7)).astype("float32"), rng.integers(0, 3, 48)
    x_val, y_val = rng.normal(-6, 1, (16, 7)).astype("float32"), rng.integers(0, 3, 16)
    best, healthy = np.inf, True
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "best.weights.h5")
        for epoch in range(epochs):
            for xb, yb in batches(x_train, y_train, 16):
                model.train_on_batch(xb, yb)
            after_train = np.array(model.get_layer("bn").moving_mean)
            val_loss, _ = model.test_on_batch(x_val, y_val)
            healthy &= not np.allclose(after_train, 0) and np.allclose(after_train, model.get_layer("bn").moving_mean)
            if val_loss < best:
                best = val_loss
                model.save_weights(path)
        model.load_weights(path)
    print("BN-GROUND-TRUTH:", "updated" if healthy else "broken")


if __name__ == "__main__":
    main()
