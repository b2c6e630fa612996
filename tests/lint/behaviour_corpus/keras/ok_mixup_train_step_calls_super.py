"""Keras 3 model with MixUp done in an overridden train_step: the override mixes the batch and then
delegates to super().train_step((mixed_x, mixed_y)), which calls the model with training=True.
The override itself never calls self(x); BatchNormalization updates its moving statistics."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


class MixUpModel(keras.Model):
    def __init__(self, *args, alpha=0.2, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha = alpha

    def train_step(self, data):
        x, y = data
        lam = tf.random.uniform([], 1 - self.alpha, 1.0)
        index = tf.random.shuffle(tf.range(tf.shape(x)[0]))
        mixed_x = lam * x + (1 - lam) * tf.gather(x, index)
        mixed_y = lam * y + (1 - lam) * tf.gather(y, index)
        return super().train_step((mixed_x, mixed_y))


def build(classes=3):
    inputs = keras.Input((8, 8, 2))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="bn")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    return MixUpModel(inputs, layers.Dense(classes, activation="softmax")(x))


def main():
    rng = np.random.default_rng(0)
    images = rng.normal(2.0, 1.0, (32, 8, 8, 2)).astype("float32")
    labels = keras.utils.to_categorical(rng.integers(0, 3, 32), 3)
    model = build()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(images, labels, batch_size=16, epochs=2, verbose=0)
    print("val", model.evaluate(images[:16], labels[:16], verbose=0))
    bn = model.get_layer("bn")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(bn.moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
