"""Keras 3 subclassed model ported from a TF1 code base: call(self, inputs, is_training=False)
forwards `training=is_training` to its BatchNormalization layers. Keras only hands the mode to a
call() parameter named `training`, so train_on_batch() calls the model with is_training left at
its default False: every training step normalises with the 0/1 moving statistics and never
updates them. The loop (train_on_batch / test_on_batch with a best-weights checkpoint) looks fine."""
import os
import tempfile

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

HPARAMS = {"width": 16, "classes": 3, "epochs": 3, "batch_size": 16, "lr": 1e-2}


class TabularResNet(keras.Model):
    def __init__(self, width, classes, **kwargs):
        super().__init__(**kwargs)
        self.stem = layers.Dense(width, use_bias=False)
        self.stem_bn = layers.BatchNormalization(name="stem_bn")
        self.res = layers.Dense(width, use_bias=False)
        self.res_bn = layers.BatchNormalization(name="res_bn")
        self.logits = layers.Dense(classes)

    def call(self, inputs, is_training=False):
        h = keras.activations.relu(self.stem_bn(self.stem(inputs), training=is_training))
        r = keras.activations.relu(self.res_bn(self.res(h), training=is_training))
        return self.logits(h + r)


def minibatches(x, y, size):
    for start in range(0, len(x), size):
        yield x[start:start + size], y[start:start + size]


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 1.5, (64, 9)).astype("float32")
    y_train = (x_train[:, :3].sum(1) > 9).astype("int32") + (x_train[:, 3] > 3).astype("int32")
    x_val = rng.normal(3.0, 1.5, (32, 9)).astype("float32")
    y_val = (x_val[:, :3].sum(1) > 9).astype("int32") + (x_val[:, 3] > 3).astype("int32")

    model = TabularResNet(HPARAMS["width"], HPARAMS["classes"])
    model.compile(optimizer=keras.optimizers.Adam(HPARAMS["lr"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    best = np.inf
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "best.weights.h5")
        for epoch in range(HPARAMS["epochs"]):
            for xb, yb in minibatches(x_train, y_train, HPARAMS["batch_size"]):
                model.train_on_batch(xb, yb)
            val_loss, val_acc = model.test_on_batch(x_val, y_val)
            print(f"epoch {epoch}: val_loss {val_loss:.3f} val_acc {val_acc:.3f}")
            if val_loss < best:
                best = val_loss
                model.save_weights(ckpt)
        model.load_weights(ckpt)
    moving_mean = keras.ops.convert_to_numpy(model.stem_bn.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
