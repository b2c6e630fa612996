"""is_training = placeholder_with_default(False) that the training loop never feeds."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Model:
    def __init__(self):
        self.x = tf.placeholder(tf.float32, [None, 5])
        self.y = tf.placeholder(tf.float32, [None, 1])
        self.is_training = tf.placeholder_with_default(False, shape=(), name="is_training")
        h = tf.layers.dense(self.x, 8)
        h = tf.layers.batch_normalization(h, training=self.is_training)
        self.out = tf.layers.dense(tf.nn.relu(h), 1)
        self.loss = tf.losses.mean_squared_error(self.y, self.out)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            self.train_op = tf.train.MomentumOptimizer(0.01, 0.9).minimize(self.loss)


def train(model, sess, steps=4):
    rng = np.random.RandomState(0)
    for _ in range(steps):
        sess.run(model.train_op, feed_dict={model.x: rng.randn(16, 5) + 2, model.y: rng.randn(16, 1)})


if __name__ == "__main__":
    model = Model()
    moving_mean = [v for v in tf.global_variables() if v.name.endswith("moving_mean:0")][0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        train(model, sess)
        print("BN-GROUND-TRUTH:", "frozen" if np.allclose(sess.run(moving_mean), 0) else "updated")
