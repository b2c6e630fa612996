"""fit() with a callback that runs self.model.predict() on a fixed validation sample at every epoch
end (confusion-matrix logging). predict() runs BatchNormalization in inference mode and leaves the
moving statistics alone; fit() keeps updating them from the training batches."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


class ConfusionMatrixLogger(keras.callbacks.Callback):
    def __init__(self, x_val, y_val, num_classes, bn_name):
        super().__init__()
        self.x_val, self.y_val = x_val, y_val
        self.num_classes = num_classes
        self.bn_name = bn_name
        self.stats_changed_by_predict = []
        self.moving_means = []

    def on_epoch_end(self, epoch, logs=None):
        bn = self.model.get_layer(self.bn_name)
        before = keras.ops.convert_to_numpy(bn.moving_mean).copy()
        preds = self.model.predict(self.x_val, verbose=0).argmax(axis=1)
        after = keras.ops.convert_to_numpy(bn.moving_mean)
        self.stats_changed_by_predict.append(not np.array_equal(before, after))
        self.moving_means.append(after.copy())
        matrix = np.zeros((self.num_classes, self.num_classes), dtype=int)
        np.add.at(matrix, (self.y_val, preds), 1)
        print(f"epoch {epoch}\n{matrix}")


def build_model(num_classes):
    return keras.Sequential([
        keras.Input((10,)),
        layers.Dense(16, use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.Activation("relu"),
        layers.Dense(num_classes, activation="softmax"),
    ])


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = (rng.normal(size=(96, 10)) + 2).astype("float32")
    y_train = rng.integers(0, 3, size=96)
    x_val = (rng.normal(size=(32, 10)) - 5).astype("float32")
    y_val = rng.integers(0, 3, size=32)
    model = build_model(3)
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    logger = ConfusionMatrixLogger(x_val, y_val, 3, "bn")
    model.fit(x_train, y_train, batch_size=32, epochs=3, callbacks=[logger], verbose=0)
    moved = all(not np.allclose(a, b) for a, b in zip(logger.moving_means, logger.moving_means[1:]))
    ok = moved and not any(logger.stats_changed_by_predict)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")


if __name__ == "__main__":
    main()
