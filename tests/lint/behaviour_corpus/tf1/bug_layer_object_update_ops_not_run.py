"""Object-style tf.layers.BatchNormalization in a placeholder-flag graph; train op ignores UPDATE_OPS."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Encoder:
    def __init__(self):
        self.fc = tf.layers.Dense(6, name="fc")
        self.norm = tf.layers.BatchNormalization(momentum=0.9, name="norm")
        self.head = tf.layers.Dense(1, name="head")

    def __call__(self, x, training):
        return self.head(tf.nn.relu(self.norm(self.fc(x), training=training)))


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    training = tf.placeholder(tf.bool, [], name="training")
    encoder = Encoder()
    pred = encoder(x, training)
    loss = tf.losses.mean_squared_error(y, pred)
    train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {x: rng.randn(8, 4) + 2, y: rng.randn(8, 1), training: True})
        sess.run(loss, {x: rng.randn(8, 4), y: rng.randn(8, 1), training: False})
        frozen = np.allclose(sess.run(encoder.norm.moving_mean), 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
