"""UPDATE_OPS fetched before the network is built: the list is empty, nothing updates."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def network(x, training):
    for i, units in enumerate([8, 8]):
        x = tf.layers.dense(x, units, name=f"fc{i}")
        x = tf.layers.batch_normalization(x, training=training, name=f"bn{i}")
        x = tf.nn.relu(x)
    return tf.layers.dense(x, 1, name="out")


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    training = tf.placeholder(tf.bool, [])
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    pred = network(x, training)
    loss = tf.reduce_mean(tf.square(pred - y))
    with tf.control_dependencies(update_ops):
        train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    rng = np.random.RandomState(0)
    mm = tf.get_default_graph().get_tensor_by_name("bn0/moving_mean:0")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train_op, {x: rng.randn(16, 4) + 2, y: rng.randn(16, 1), training: True})
        frozen = np.allclose(sess.run(mm), 0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
