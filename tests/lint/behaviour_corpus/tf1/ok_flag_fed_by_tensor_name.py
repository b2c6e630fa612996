"""The training flag placeholder_with_default(False) is fed by tensor name ("is_training:0")."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build():
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    flag = tf.placeholder_with_default(False, [], name="is_training")
    h = tf.layers.batch_normalization(tf.layers.dense(x, 6), training=flag)
    loss = tf.reduce_mean(tf.square(tf.layers.dense(h, 1) - y), name="loss")
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        tf.train.AdamOptimizer(1e-2).minimize(loss, name="train_op")


if __name__ == "__main__":
    build()
    graph = tf.get_default_graph()
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(graph.get_operation_by_name("train_op"),
                     {"x:0": rng.randn(8, 4) + 2, "y:0": rng.randn(8, 1), "is_training:0": True})
        print("BN-GROUND-TRUTH:", "updated" if not np.allclose(sess.run(mm), 0) else "frozen")
