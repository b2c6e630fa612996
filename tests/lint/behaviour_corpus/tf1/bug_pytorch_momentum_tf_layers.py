"""PyTorch momentum 0.1 given to tf.layers.batch_normalization (TF weighs the OLD value by momentum)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

BATCH_NORM_MOMENTUM = 0.1


def bn_relu(x, is_training):
    x = tf.layers.batch_normalization(x, momentum=BATCH_NORM_MOMENTUM, epsilon=1e-5, training=is_training)
    return tf.nn.relu(x)


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 3])
    is_training = tf.placeholder(tf.bool)
    h = tf.layers.dense(x, 4, use_bias=False, name="dense")
    out = tf.layers.dense(bn_relu(h, is_training), 1)
    loss = tf.reduce_mean(out ** 2)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        step = tf.train.GradientDescentOptimizer(0.0).minimize(loss)
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for i in range(4):
            batch = rng.randn(32, 3) + i
            sess.run(step, {x: batch, is_training: True})
        last_mean = sess.run(h, {x: batch}).mean(0)
        gap = np.abs(sess.run(mm) - last_mean).max()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.15 * np.abs(last_mean).max() else "updated")
