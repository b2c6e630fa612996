"""Keras 3 fit() with a robust-accuracy callback: at the end of every epoch RobustAccuracy crafts
PGD adversarial examples from a held-out split with pgd_attack(model, ...), whose GradientTape calls
model(x_adv, training=False): the attack differentiates the inference-mode network, so the held-out
split never reaches BatchNormalization's moving statistics (also for the final robustness report)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

XENT = keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def pgd_attack(model, images, labels, epsilon=0.3, step_size=0.1, steps=5):
    x_adv = images + tf.random.uniform(tf.shape(images), -epsilon, epsilon)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            tape.watch(x_adv)
            loss = XENT(labels, model(x_adv, training=False))
        grad = tape.gradient(loss, x_adv)
        x_adv = x_adv + step_size * tf.sign(grad)
        x_adv = tf.clip_by_value(x_adv, images - epsilon, images + epsilon)
    return x_adv


def robust_accuracy(model, images, labels):
    x_adv = pgd_attack(model, tf.constant(images), tf.constant(labels))
    preds = np.argmax(model.predict(x_adv, verbose=0), axis=-1)
    return float(np.mean(preds == labels))


class RobustAccuracy(keras.callbacks.Callback):
    def __init__(self, images, labels):
        super().__init__()
        self.images, self.labels = images, labels

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["robust_acc"] = robust_accuracy(self.model, self.images, self.labels)


def build_classifier():
    inputs = keras.Input((12,))
    h = layers.Dense(32, use_bias=False)(inputs)
    h = layers.BatchNormalization(name="bn")(h)
    h = layers.Activation("relu")(h)
    return keras.Model(inputs, layers.Dense(2)(h))


def main():
    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x_train = rng.normal(0.5, 1.0, (256, 12)).astype("float32")
    y_train = (x_train[:, 0] > 0.5).astype("int64")
    x_held = rng.normal(-2.0, 2.0, (64, 12)).astype("float32")
    y_held = (x_held[:, 0] > -2.0).astype("int64")
    model = build_classifier()
    model.compile(optimizer="adam", loss=XENT, metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=32, epochs=2, verbose=0,
              callbacks=[RobustAccuracy(x_held, y_held)])
    bn = model.get_layer("bn")
    before = bn.moving_mean.numpy().copy(), bn.moving_variance.numpy().copy()
    print("final robust accuracy:", robust_accuracy(model, x_held, y_held))
    after = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    touched = not (np.allclose(before[0], after[0]) and np.allclose(before[1], after[1]))
    print("BN-GROUND-TRUTH:", "contaminated" if touched else "untouched")


if __name__ == "__main__":
    main()
