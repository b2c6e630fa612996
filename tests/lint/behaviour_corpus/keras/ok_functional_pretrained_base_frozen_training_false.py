"""tf.keras (TF 2.x) transfer-learning script following the Keras guide: stage 1 pretrains the
backbone on a source task (stand-in for downloading ImageNet weights) and saves its weights; stage 2
loads them, freezes the backbone (trainable=False) and wires it as `backbone(inputs, training=False)`
so its BatchNormalization keeps the pretrained statistics while only the new head trains."""
import argparse
import os
import tempfile

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


def pretrain_backbone(path, rng, lr):
    backbone = build_backbone()
    inputs = keras.Input(backbone.input_shape[1:])
    features = layers.GlobalAveragePooling2D()(backbone(inputs))
    source_model = keras.Model(inputs, layers.Dense(4)(features))
    source_model.compile(optimizer=keras.optimizers.Adam(lr),
                         loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x_source = rng.normal(0.5, 1.0, (64, 16, 16, 3)).astype("float32")
    source_model.fit(x_source, rng.integers(0, 4, 64), batch_size=16, epochs=1, verbose=0)
    backbone.save_weights(path)


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    return parser.parse_args()


def main():
    args = parse_args()
    rng = np.random.default_rng(0)
    weights = os.path.join(tempfile.mkdtemp(), "backbone.h5")
    pretrain_backbone(weights, rng, args.lr)

    x_train = rng.normal(2.0, 1.0, (64, 16, 16, 3)).astype("float32")
    y_train = (x_train.mean(axis=(1, 2, 3)) > 2.0).astype("int32")
    backbone = build_backbone()
    backbone.load_weights(weights)
    backbone.trainable = False
    model = build_classifier(backbone, num_classes=2)
    model.compile(optimizer=keras.optimizers.Adam(args.lr),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    pretrained_mean = backbone.get_layer("stem_bn").moving_mean.numpy().copy()
    head_before = model.layers[-1].kernel.numpy().copy()
    model.fit(x_train, y_train, batch_size=16, epochs=args.epochs, verbose=0)
    head_trained = not np.allclose(model.layers[-1].kernel.numpy(), head_before)
    kept = np.allclose(backbone.get_layer("stem_bn").moving_mean.numpy(), pretrained_mean)
    pretrained = not np.allclose(pretrained_mean, 0.0)
    print("BN-GROUND-TRUTH:", "backbone-frozen-head-updated" if kept and pretrained and head_trained else "broken")


if __name__ == "__main__":
    main()
