"""Keras 3 transfer learning: backbone.trainable = False and called plainly; fit() keeps its BN in inference."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402


def make_backbone():
    inputs = keras.Input((8, 8, 3))
    x = layers.Conv2D(6, 3, padding="same")(inputs)
    x = layers.BatchNormalization(name="backbone_bn")(x)
    x = layers.Activation("relu")(x)
    return keras.Model(inputs, layers.GlobalAveragePooling2D()(x), name="backbone")


def build_classifier(backbone, classes=4):
    backbone.trainable = False  # Keras 3: a non-trainable BN layer also runs in inference mode
    inputs = keras.Input((8, 8, 3))
    features = backbone(inputs)
    x = layers.Dense(16, activation="relu")(features)
    outputs = layers.Dense(classes, activation="softmax")(layers.Dropout(0.2)(x))
    return keras.Model(inputs, outputs)


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    backbone = make_backbone()
    bn = backbone.get_layer("backbone_bn")
    bn.moving_mean.assign(rng.normal(size=6).astype("float32"))  # "pretrained" statistics
    pretrained = np.array(bn.moving_mean)
    model = build_classifier(backbone)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = rng.normal(3, 1, (64, 8, 8, 3)).astype("float32")
    y = rng.integers(0, 4, 64)
    model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=0)
    same = np.allclose(pretrained, bn.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen-by-design" if same else "drifted")
