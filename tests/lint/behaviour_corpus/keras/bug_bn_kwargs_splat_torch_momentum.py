"""tf.keras re-implementation of a PyTorch model: the normalization settings are kept in one dict
copied from the PyTorch code (momentum=0.1, eps=1e-5) and splatted into every
BatchNormalization(**BN_KWARGS). In Keras momentum is the weight of the OLD value: 0.1 keeps 10 %
of the history, so the moving statistics are essentially the last batch's."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

# same normalization as the reference PyTorch implementation
BN_KWARGS = dict(momentum=0.1, epsilon=1e-5)


def conv_bn_relu(x, filters, name):
    x = tf.keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = tf.keras.layers.BatchNormalization(name=f"{name}_bn", **BN_KWARGS)(x)
    return tf.keras.layers.ReLU(name=f"{name}_relu")(x)


def build_net(num_classes=3):
    inputs = tf.keras.Input((6, 6, 3))
    x = conv_bn_relu(inputs, 8, "block1")
    x = conv_bn_relu(x, 8, "block2")
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(num_classes)(x))


def main():
    model = build_net()
    model.compile(optimizer="sgd", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    xs = [rng.normal(i, 1, (16, 6, 6, 3)).astype("float32") for i in range(4)]
    for x in xs:
        model.train_on_batch(x, rng.integers(0, 3, 16))
    conv, bn = model.get_layer("block1_conv"), model.get_layer("block1_bn")
    last_mean = conv(xs[-1]).numpy().mean(axis=(0, 1, 2))
    gap = np.abs(bn.moving_mean.numpy() - last_mean).max()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.15 * np.abs(last_mean).max() else "updated")


if __name__ == "__main__":
    main()
