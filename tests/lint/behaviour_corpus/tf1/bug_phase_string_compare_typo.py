"""The graph's BN mode comes from a string compare: training=(phase == 'training'), but the command
line default (and every caller) says 'train'. The compare is a Python False, so the trained graph's
batch normalization is built in inference mode and its moving statistics never leave 0/1."""
import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--phase", default="train", choices=["train", "test"])
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--steps", type=int, default=4)
    return parser.parse_args(argv)


def conv_bn_relu(x, filters, phase, name):
    with tf.variable_scope(name):
        x = tf.layers.conv2d(x, filters, 3, padding="same", use_bias=False)
        x = tf.layers.batch_normalization(x, training=(phase == "training"), name="bn")
        return tf.nn.relu(x)


def build_graph(phase, lr):
    images = tf.placeholder(tf.float32, [None, 8, 8, 1], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    net = conv_bn_relu(images, 4, phase, "block1")
    net = conv_bn_relu(net, 8, phase, "block2")
    logits = tf.layers.dense(tf.reduce_mean(net, axis=[1, 2]), 3)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.train.MomentumOptimizer(lr, 0.9).minimize(loss)
    return images, labels, loss, train_op


def main():
    args = parse_args([])
    images, labels, loss, train_op = build_graph(args.phase, args.lr)
    moving_mean = [v for v in tf.global_variables() if v.name == "block1/bn/moving_mean:0"][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(args.steps):
            feed = {images: rng.randn(16, 8, 8, 1) + 2.0, labels: rng.randint(0, 3, 16)}
            _, value = sess.run([train_op, loss], feed)
            print("step", step, value)
        mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
