"""Two-stage transfer learning where stage 2 forgets to recompile: the base is frozen
(base.trainable = False), the model compiled and the head trained; then base.trainable = True and
fit() is called again on the already compiled model. The train function keeps the stage-1
trainable state: the base's BatchNormalization stays in inference mode (moving statistics never
update) and its weights stay frozen. The Keras guide says to call compile() after changing
trainable."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def make_base():
    return keras.Sequential([keras.Input((8, 8, 3)), layers.Conv2D(8, 3, padding="same", use_bias=False),
                             layers.BatchNormalization(name="base_bn"), layers.ReLU(),
                             layers.GlobalAveragePooling2D()], name="base")


def make_model(base, classes=3):
    inputs = keras.Input((8, 8, 3))
    x = base(inputs)
    x = layers.Dropout(0.2)(x)
    return keras.Model(inputs, layers.Dense(classes)(x))


def main():
    rng = np.random.default_rng(0)
    images = rng.normal(2.0, 1.0, (32, 8, 8, 3)).astype("float32")
    labels = rng.integers(0, 3, 32)
    base = make_base()
    model = make_model(base)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    # stage 1: train the head on top of the frozen base
    base.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss, metrics=["accuracy"])
    model.fit(images, labels, batch_size=16, epochs=1, verbose=0)

    # stage 2: fine-tune everything with a low learning rate
    base.trainable = True
    model.fit(images, labels, batch_size=16, epochs=2, verbose=0)

    bn = base.get_layer("base_bn")
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(bn.moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
