"""tf.keras (TF 2.x) transfer-learning script adapted from the Keras guide: the backbone is wired into
the functional model as `backbone(inputs, training=False)` so its BatchNormalization stays in
inference mode. The guide freezes a pretrained backbone; here the pretrained weights are optional and
default to None, so the default run trains the backbone from scratch (trainable=True, its weights get
gradients) while its BN layers never leave the initial 0/1 statistics. (tf.keras honours the
call-time training=False of a nested model; Keras 3.15 updates the statistics anyway.)"""
import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
from tensorflow import keras  # noqa: E402
from tensorflow.keras import layers  # noqa: E402


def build_backbone(input_shape=(16, 16, 3), width=8):
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="stem_bn")(x)
    x = layers.ReLU()(x)
    x = layers.Conv2D(2 * width, 3, strides=2, padding="same", use_bias=False)(x)
    x = layers.BatchNormalization(name="block_bn")(x)
    x = layers.ReLU()(x)
    return keras.Model(inputs, x, name="backbone")


def build_classifier(backbone, num_classes, dropout=0.2):
    inputs = keras.Input(backbone.input_shape[1:])
    x = backbone(inputs, training=False)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(dropout)(x)
    outputs = layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs)


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", default=None, help="pretrained backbone weights (.h5)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    return parser.parse_args()


def main():
    args = parse_args()
    rng = np.random.default_rng(0)
    x_train = rng.normal(2.0, 1.0, (64, 16, 16, 3)).astype("float32")
    y_train = (x_train.mean(axis=(1, 2, 3)) > 2.0).astype("int32")

    backbone = build_backbone()
    if args.weights:
        backbone.load_weights(args.weights)
        backbone.trainable = False
    model = build_classifier(backbone, num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(args.lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    kernel_before = backbone.layers[1].kernel.numpy().copy()
    model.fit(x_train, y_train, batch_size=16, epochs=args.epochs, verbose=0)
    weights_trained = not np.allclose(backbone.layers[1].kernel.numpy(), kernel_before)
    stem_mean = backbone.get_layer("stem_bn").moving_mean.numpy()
    print("backbone weights trained:", weights_trained)
    frozen = weights_trained and np.allclose(stem_mean, 0.0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
