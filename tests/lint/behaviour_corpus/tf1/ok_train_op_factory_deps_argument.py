"""Train op factory that receives the update ops as an argument and wires them as control deps."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def make_train_op(loss, dependencies, learning_rate=0.05):
    with tf.control_dependencies(dependencies):
        return tf.train.RMSPropOptimizer(learning_rate).minimize(loss)


def tower(x, is_training):
    net = tf.layers.conv2d(x, 3, 3, padding="same")
    net = tf.layers.batch_normalization(net, training=is_training, momentum=0.9)
    return tf.layers.dense(tf.reduce_mean(net, [1, 2]), 1)


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 5, 5, 1])
    t = tf.placeholder(tf.float32, [None, 1])
    training = tf.placeholder(tf.bool, [])
    loss = tf.reduce_mean(tf.square(tower(x, training) - t))
    train_op = make_train_op(loss, tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {x: rng.randn(8, 5, 5, 1) + 2, t: rng.randn(8, 1), training: True})
        print("BN-GROUND-TRUTH:", "updated" if not np.allclose(sess.run(mm), 0) else "frozen")
