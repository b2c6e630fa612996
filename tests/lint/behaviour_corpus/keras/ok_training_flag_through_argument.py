"""One tf.function step for training and validation; training is a Python argument threaded from the
epoch loop (True for the update step, False for validation)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_model():
    return keras.Sequential([keras.Input(shape=(8,)), layers.Dense(12), layers.BatchNormalization(name="bn"),
                             layers.ReLU(), layers.Dense(1)])


model = build_model()
optimizer = keras.optimizers.SGD(0.05)
mse = keras.losses.MeanSquaredError()


@tf.function(reduce_retracing=True)
def run_batch(x, y, training):
    with tf.GradientTape() as tape:
        preds = model(x, training=training)
        loss = mse(y, preds)
    if training:
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


def run_epoch(batches, training):
    return float(np.mean([run_batch(x, y, training=training) for x, y in batches]))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    train_batches = [(rng.normal(2.0, 1.0, (16, 8)).astype("float32"), rng.normal(size=(16, 1)).astype("float32"))
                     for _ in range(3)]
    val_batches = [(rng.normal(-4.0, 1.0, (16, 8)).astype("float32"), rng.normal(size=(16, 1)).astype("float32"))]
    bn = model.get_layer("bn")
    changed, val_untouched = [], []
    for epoch in range(2):
        before = np.array(bn.moving_mean)
        run_epoch(train_batches, training=True)
        changed.append(not np.allclose(before, bn.moving_mean))
        after = np.array(bn.moving_mean)
        run_epoch(val_batches, training=False)
        val_untouched.append(np.allclose(after, bn.moving_mean))
    print("BN-GROUND-TRUTH:", "updated" if all(changed) and all(val_untouched) else "broken")
