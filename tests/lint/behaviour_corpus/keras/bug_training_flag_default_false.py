"""Custom loop whose step takes an is_training flag that defaults to False and is never set."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def build_classifier(num_classes=3):
    inputs = keras.Input((6,))
    h = keras.layers.Dense(8)(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    return keras.Model(inputs, keras.layers.Dense(num_classes)(keras.layers.ReLU()(h)))


def step(model, optimizer, x, y, is_training=False):
    with tf.GradientTape() as tape:
        logits = model(x, training=is_training)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    return loss


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    model = build_classifier()
    optimizer = keras.optimizers.Adam(1e-2)
    start = np.array(model.get_layer("bn").moving_mean)
    for _ in range(3):
        step(model, optimizer, rng.normal(2, 1, (8, 6)).astype("float32"), rng.integers(0, 3, 8))
    frozen = np.allclose(start, model.get_layer("bn").moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
