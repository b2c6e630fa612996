"""Classic TF1 bug: batch_normalization(training=True) but UPDATE_OPS never run with the train op."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"lr": 0.05, "steps": 4, "batch_size": 16}


def build_graph(is_training):
    inputs = tf.placeholder(tf.float32, [None, 6], name="inputs")
    targets = tf.placeholder(tf.float32, [None, 1], name="targets")
    hidden = tf.layers.dense(inputs, 10, use_bias=False)
    hidden = tf.layers.batch_normalization(hidden, training=is_training, momentum=0.9)
    preds = tf.layers.dense(tf.nn.relu(hidden), 1)
    loss = tf.reduce_mean(tf.square(preds - targets))
    optimizer = tf.train.AdamOptimizer(FLAGS["lr"])
    train_op = optimizer.minimize(loss, global_step=tf.train.get_or_create_global_step())
    return inputs, targets, train_op


if __name__ == "__main__":
    inputs, targets, train_op = build_graph(is_training=True)
    mean_var = tf.get_default_graph().get_tensor_by_name("batch_normalization/moving_mean:0")
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(FLAGS["steps"]):
            sess.run(train_op, feed_dict={inputs: rng.randn(16, 6) + 3, targets: rng.randn(16, 1)})
        moving = sess.run(mean_var)
        # the checkpoint the serving graph restores holds the never-updated statistics
        tf.train.Saver().save(sess, os.path.join(tempfile.mkdtemp(), "model.ckpt"))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving, 0) else "updated")
