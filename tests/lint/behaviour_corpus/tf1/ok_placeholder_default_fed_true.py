"""placeholder_with_default(False) for inference, fed True by the training loop through a feed dict helper."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Net:
    def __init__(self):
        self.inputs = tf.placeholder(tf.float32, [None, 3], name="inputs")
        self.labels = tf.placeholder(tf.float32, [None, 1], name="labels")
        self.phase_train = tf.placeholder_with_default(False, [], name="phase_train")
        h = tf.layers.dense(self.inputs, 6)
        h = tf.layers.batch_normalization(h, training=self.phase_train)
        self.pred = tf.layers.dense(tf.nn.relu(h), 1)
        self.loss = tf.reduce_mean(tf.square(self.pred - self.labels))
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            self.train_op = tf.train.AdamOptimizer(1e-2).minimize(self.loss)

    def feed(self, x, y, train):
        return {self.inputs: x, self.labels: y, self.phase_train: train}


if __name__ == "__main__":
    net = Net()
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(net.train_op, net.feed(rng.randn(16, 3) + 2, rng.randn(16, 1), True))
        trained = sess.run(mm)
        sess.run(net.pred, {net.inputs: rng.randn(4, 3) * 6})
        ok = not np.allclose(trained, 0) and np.allclose(trained, sess.run(mm))
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
