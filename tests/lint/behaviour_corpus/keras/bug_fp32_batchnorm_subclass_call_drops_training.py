"""Keras 3 mixed-precision (mixed_bfloat16) training fed by a tf.data pipeline. The project keeps
its normalisation in float32 with a BatchNormalization subclass whose call(self, inputs) casts the
input and returns super().call(x). The override has no `training` parameter, so Keras passes no
mode to it and BatchNormalization.call() runs with training=None: inference mode inside fit(), the
moving statistics stay at 0/1 while the rest of the network trains."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"precision": "mixed_bfloat16", "widths": (24, 24), "classes": 4, "batch_size": 16,
          "epochs": 3, "learning_rate": 3e-3}


class Float32BatchNorm(layers.BatchNormalization):
    """BatchNormalization computed in float32 whatever the compute dtype of the policy."""

    def call(self, inputs):
        outputs = super().call(tf.cast(inputs, "float32"))
        return tf.cast(outputs, inputs.dtype)


def build_model(widths, classes):
    inputs = keras.Input((10,))
    x = inputs
    for i, width in enumerate(widths):
        x = layers.Dense(width, use_bias=False, name=f"dense_{i}")(x)
        x = Float32BatchNorm(name=f"norm_{i}")(x)
        x = layers.Activation("swish")(x)
    outputs = layers.Dense(classes, dtype="float32", name="logits")(x)
    return keras.Model(inputs, outputs)


def make_dataset(n, seed, batch_size, shuffle):
    rng = np.random.default_rng(seed)
    x = rng.normal(2.0, 1.0, (n, 10)).astype("float32")
    y = (x[:, 0] > 2.0).astype("int32") * 2 + (x[:, 1] > 2.0).astype("int32")
    ds = tf.data.Dataset.from_tensor_slices((x, y))
    if shuffle:
        ds = ds.shuffle(n, seed=seed)
    return ds.batch(batch_size).map(lambda a, b: (a * 1.5, b)).prefetch(tf.data.AUTOTUNE)


def main():
    keras.utils.set_random_seed(0)
    keras.mixed_precision.set_global_policy(CONFIG["precision"])
    model = build_model(CONFIG["widths"], CONFIG["classes"])
    model.compile(optimizer=keras.optimizers.Adam(CONFIG["learning_rate"]),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    train_ds = make_dataset(96, 0, CONFIG["batch_size"], shuffle=True)
    val_ds = make_dataset(32, 1, CONFIG["batch_size"], shuffle=False)
    model.fit(train_ds, validation_data=val_ds, epochs=CONFIG["epochs"], verbose=2)
    moving_mean = keras.ops.convert_to_numpy(model.get_layer("norm_0").moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
