"""is_training = placeholder_with_default(True): the training loop relies on the default, the
evaluation explicitly feeds False, and the update ops run with the optimizer."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Regressor:
    def __init__(self, num_features=4):
        self.inputs = tf.placeholder(tf.float32, [None, num_features], name="inputs")
        self.targets = tf.placeholder(tf.float32, [None, 1], name="targets")
        self.is_training = tf.placeholder_with_default(True, shape=(), name="is_training")
        h = tf.layers.dense(self.inputs, 16)
        h = tf.layers.batch_normalization(h, training=self.is_training, name="bn")
        self.prediction = tf.layers.dense(tf.nn.relu(h), 1)
        self.loss = tf.reduce_mean(tf.square(self.prediction - self.targets))
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            self.train_op = tf.train.AdamOptimizer(5e-3).minimize(self.loss)

    def fit_batch(self, sess, inputs, targets):
        return sess.run([self.train_op, self.loss], {self.inputs: inputs, self.targets: targets})[1]

    def evaluate(self, sess, inputs, targets):
        return sess.run(self.loss, {self.inputs: inputs, self.targets: targets, self.is_training: False})


if __name__ == "__main__":
    model = Regressor()
    moving_mean = [v for v in tf.global_variables() if v.name == "bn/moving_mean:0"][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            model.fit_batch(sess, rng.randn(16, 4) + 2.0, rng.randn(16, 1))
        trained = sess.run(moving_mean)
        model.evaluate(sess, rng.randn(16, 4) - 6.0, rng.randn(16, 1))
        ok = not np.allclose(trained, 0) and np.allclose(trained, sess.run(moving_mean))
        print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
