"""Adversarial training: the attack is crafted with training=False, the update uses training=True."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8), keras.layers.BatchNormalization(),
                          keras.layers.ReLU(), keras.layers.Dense(2)])
optimizer = keras.optimizers.SGD(0.05)
xent = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def fgsm(x, y, eps=0.1):
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = xent(y, model(x, training=False))
    return x + eps * tf.sign(tape.gradient(loss, x))


@tf.function
def adv_train_step(x, y):
    x_adv = fgsm(x, y)
    with tf.GradientTape() as tape:
        loss = xent(y, model(x_adv, training=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    bn = model.layers[1]
    start = np.array(bn.moving_mean)
    for _ in range(3):
        adv_train_step(tf.constant(rng.normal(2, 1, (8, 5)), tf.float32), tf.constant(rng.integers(0, 2, 8)))
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(start, bn.moving_mean) else "frozen")
