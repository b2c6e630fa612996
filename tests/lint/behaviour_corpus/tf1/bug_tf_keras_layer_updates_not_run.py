"""tf.keras BatchNormalization layer used inside a TF1 graph trained with optimizer.minimize: its updates never run."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Regressor:
    def __init__(self, n_in):
        self.x = tf.placeholder(tf.float32, [None, n_in])
        self.y = tf.placeholder(tf.float32, [None, 1])
        self.bn = tf.keras.layers.BatchNormalization()
        hidden = tf.keras.layers.Dense(8)(self.x)
        hidden = tf.nn.relu(self.bn(hidden, training=True))
        self.pred = tf.keras.layers.Dense(1)(hidden)
        self.loss = tf.reduce_mean(tf.square(self.pred - self.y))
        self.train_op = tf.train.AdamOptimizer(1e-2).minimize(self.loss)


if __name__ == "__main__":
    model = Regressor(4)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(model.train_op, {model.x: rng.randn(16, 4) + 2, model.y: rng.randn(16, 1)})
        moving_mean = sess.run(model.bn.moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0) else "updated")
