"""Keras 3 image classifier whose augmentation (RandomFlip/RandomTranslation) lives inside the model, as the
Keras preprocessing guide recommends. Augmentation layers are no-ops at inference, so the test-time
augmentation helper calls the model with training=True to get random views and averages n of them.
The model is trained with fit(), then tta_predict() scores a held-out batch from a shifted camera."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

NUM_CLASSES = 3


def build(image_size=8):
    augmenter = keras.Sequential([
        layers.RandomFlip("horizontal", seed=1),
        layers.RandomTranslation(0.1, 0.1, seed=2),
    ], name="augmenter")
    net = keras.Sequential([
        keras.Input((image_size, image_size, 1)),
        layers.Conv2D(6, 3, padding="same", use_bias=False),
        layers.BatchNormalization(name="bn"),
        layers.ReLU(),
        layers.GlobalAveragePooling2D(),
        layers.Dense(NUM_CLASSES),
    ], name="net")
    inputs = keras.Input((image_size, image_size, 1))
    model = keras.Model(inputs, net(augmenter(inputs)))
    return model, augmenter, net


def tta_predict(model, augmenter, net, images, n_views=6):
    views = [keras.ops.softmax(model(images, training=True)) for _ in range(n_views)]
    return keras.ops.mean(keras.ops.stack(views), axis=0)


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x_train = rng.normal(0.0, 1.0, (64, 8, 8, 1)).astype("float32")
    y_train = rng.integers(0, NUM_CLASSES, 64)
    x_field = rng.normal(3.0, 2.0, (32, 8, 8, 1)).astype("float32")  # brighter, noisier camera
    model, augmenter, net = build()
    model.compile(keras.optimizers.Adam(1e-3), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train, batch_size=16, epochs=2, verbose=0)
    bn = net.get_layer("bn")
    after_fit = keras.ops.convert_to_numpy(bn.moving_mean).copy()
    probs = tta_predict(model, augmenter, net, x_field)
    assert probs.shape == (32, NUM_CLASSES)
    after_tta = keras.ops.convert_to_numpy(bn.moving_mean)
    if np.allclose(after_fit, 0.0):
        behaviour = "frozen"
    elif np.allclose(after_fit, after_tta):
        behaviour = "updated"
    else:
        behaviour = "contaminated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
