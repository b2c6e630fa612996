"""pix2pix-style generator: BN always in training mode, also when translating test images (deliberate)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def generator(x):
    with tf.variable_scope("generator", reuse=tf.AUTO_REUSE):
        h = tf.layers.conv2d(x, 4, 3, padding="same")
        # pix2pix normalises with the statistics of the current batch at test time as well
        h = tf.layers.batch_normalization(h, training=True)
        return tf.tanh(tf.layers.conv2d(tf.nn.relu(h), 1, 3, padding="same"))


if __name__ == "__main__":
    inputs = tf.placeholder(tf.float32, [None, 6, 6, 1])
    targets = tf.placeholder(tf.float32, [None, 6, 6, 1])
    outputs = generator(inputs)
    l1 = tf.reduce_mean(tf.abs(outputs - targets))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(2e-4, 0.5).minimize(l1)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {inputs: rng.randn(4, 6, 6, 1), targets: rng.randn(4, 6, 6, 1)})
        test_images = rng.randn(4, 6, 6, 1) * 2
        translated = sess.run(outputs, {inputs: test_images})
        alone = sess.run(outputs, {inputs: test_images[:1]})
    print("BN-GROUND-TRUTH:", "batch-stats-at-test-by-design" if not np.allclose(translated[:1], alone, atol=1e-5) else "moving-stats")
