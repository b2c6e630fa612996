"""Keras 3 custom loop with an activation-sparsity penalty (deep-supervision style taps): the training
step walks `for layer in net.layers: h = layer(h)` to collect every hidden activation for the penalty
instead of calling the Sequential model once. Each layer is called on its own with no training
argument and no outer model call to inherit it from, so BatchNormalization runs in inference mode
during every optimizer step: its moving statistics never leave 0/1."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--sparsity", type=float, default=1e-3)
    return p.parse_args(argv)


def make_net(width=24):
    return keras.Sequential([
        keras.Input((10,)),
        layers.Dense(width, name="fc1"),
        layers.BatchNormalization(name="norm1"),
        layers.Activation("relu", name="act1"),
        layers.Dense(width, name="fc2"),
        layers.Activation("relu", name="act2"),
        layers.Dense(3, name="logits"),
    ], name="tabnet")


def tapped_forward(net, inputs):
    """Returns the logits and the hidden activations (outputs of the Activation layers)."""
    taps = []
    h = inputs
    for layer in net.layers:
        h = layer(h)
        if isinstance(layer, layers.Activation):
            taps.append(h)
    return h, taps


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(1.5, 2.0, (n, 10)).astype("float32")
    y = (np.digitize(x[:, 0] + 0.5 * x[:, 1], [1.0, 2.5])).astype("int32")
    return x, y


def main(argv=None):
    args = parse_args(argv)
    keras.utils.set_random_seed(0)
    net = make_net()
    optimizer = keras.optimizers.Adam(args.lr)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def train_step(x, y):
        with tf.GradientTape() as tape:
            logits, taps = tapped_forward(net, x)
            penalty = tf.add_n([tf.reduce_mean(tf.abs(t)) for t in taps])
            loss = ce(y, logits) + args.sparsity * penalty
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return loss

    x, y = make_data(256, 1)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(256, seed=0).batch(args.batch_size)
    for epoch in range(args.epochs):
        losses = [float(train_step(xb, yb)) for xb, yb in ds]
        print(f"epoch {epoch} loss {np.mean(losses):.4f}")
    moving_mean = keras.ops.convert_to_numpy(net.get_layer("norm1").moving_mean)
    moving_var = keras.ops.convert_to_numpy(net.get_layer("norm1").moving_variance)
    untouched = np.allclose(moving_mean, 0.0) and np.allclose(moving_var, 1.0)
    print("BN-GROUND-TRUTH:", "frozen" if untouched else "updated")


if __name__ == "__main__":
    main()
