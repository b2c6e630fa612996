"""Keras transfer learning: base.trainable=False and base(x, training=False), then fit (deliberate)."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def pretrained_backbone():
    inp = keras.Input((8, 8, 3))
    x = layers.Conv2D(4, 3, padding="same")(inp)
    x = layers.BatchNormalization(name="backbone_bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inp, layers.GlobalAveragePooling2D()(x), name="backbone")


if __name__ == "__main__":
    base_model = pretrained_backbone()
    base_model.trainable = False
    inputs = keras.Input((8, 8, 3))
    features = base_model(inputs, training=False)
    x = layers.Dense(6)(features)
    x = layers.BatchNormalization(name="head_bn")(x)
    outputs = layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    backbone_before = np.array(base_model.get_layer("backbone_bn").moving_mean)
    head_before = np.array(model.get_layer("head_bn").moving_mean)
    model.fit(rng.normal(1, 1, (32, 8, 8, 3)), rng.integers(0, 2, 32), epochs=1, batch_size=16, verbose=0)
    backbone_frozen = np.allclose(backbone_before, base_model.get_layer("backbone_bn").moving_mean)
    head_updated = not np.allclose(head_before, model.get_layer("head_bn").moving_mean)
    print("BN-GROUND-TRUTH:", "backbone-frozen-head-updated" if backbone_frozen and head_updated else "other")
