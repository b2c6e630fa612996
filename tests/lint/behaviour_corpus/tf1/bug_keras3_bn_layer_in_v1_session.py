"""Half-migrated TF1 script: the graph, placeholders, Session and the UPDATE_OPS wiring are TF1,
but the layers now come from the standalone Keras 3 package (`from keras import layers`). A Keras 3
BatchNormalization called with training=True inside a v1 graph creates its moving-average
assignments as orphan ops: they are not in UPDATE_OPS and nothing runs them, so the
control_dependencies block is empty and the moving statistics stay 0 / 1."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

tf.compat.v1.disable_eager_execution()


class Net:
    def __init__(self):
        self.fc = layers.Dense(8, use_bias=False)
        self.bn = layers.BatchNormalization(momentum=0.9)
        self.out = layers.Dense(1)

    def __call__(self, x, training):
        return self.out(tf.nn.relu(self.bn(self.fc(x), training=training)))


def main(steps=5):
    x = tf.compat.v1.placeholder(tf.float32, [None, 4])
    y = tf.compat.v1.placeholder(tf.float32, [None, 1])
    net = Net()
    pred = net(x, training=True)
    loss = tf.reduce_mean(tf.square(pred - y))
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.compat.v1.train.AdamOptimizer(1e-2).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        for _ in range(steps):
            sess.run(train_op, {x: rng.randn(16, 4) + 3, y: rng.randn(16, 1)})
        moving_mean = sess.run(net.bn.moving_mean.value)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
