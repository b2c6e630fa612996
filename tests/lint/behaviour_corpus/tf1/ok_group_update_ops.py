"""Update ops grouped with the train op (tf.group) instead of control dependencies."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def get_train_op(loss, lr):
    opt = tf.train.GradientDescentOptimizer(lr)
    minimize = opt.minimize(loss)
    return tf.group(minimize, *tf.get_collection(tf.GraphKeys.UPDATE_OPS))


if __name__ == "__main__":
    features = tf.placeholder(tf.float32, [None, 5])
    target = tf.placeholder(tf.float32, [None, 1])
    net = tf.layers.dense(features, 6)
    net = tf.layers.batch_normalization(net, training=True)
    net = tf.layers.dense(tf.nn.relu(net), 1)
    loss = tf.reduce_mean(tf.square(net - target))
    train_op = get_train_op(loss, 0.05)
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {features: rng.randn(16, 5) + 1, target: rng.randn(16, 1)})
        print("BN-GROUND-TRUTH:", "updated" if not np.allclose(sess.run(mm), 0) else "frozen")
