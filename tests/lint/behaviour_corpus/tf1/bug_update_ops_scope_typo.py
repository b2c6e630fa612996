"""UPDATE_OPS filtered by a scope name that does not match the variable scope the network was built in."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def encoder(x, training):
    with tf.variable_scope("encoder"):
        h = tf.layers.dense(x, 8)
        h = tf.layers.batch_normalization(h, training=training)
        return tf.layers.dense(tf.nn.relu(h), 2)


def build_train_op(loss):
    # the network lives under "encoder/", the filter says "enc/" -> empty list
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="enc/")
    with tf.control_dependencies(update_ops):
        return tf.train.AdamOptimizer(1e-2).minimize(loss)


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 5])
    target = tf.placeholder(tf.float32, [None, 2])
    loss = tf.reduce_mean(tf.square(encoder(x, training=True) - target))
    train_op = build_train_op(loss)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train_op, {x: rng.randn(16, 5) + 2, target: rng.randn(16, 2)})
        mean = sess.run(tf.get_default_graph().get_tensor_by_name("encoder/batch_normalization/moving_mean:0"))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0) else "updated")
