"""The BN update ops are attached (control_dependencies) to the summary op, which the loop only
runs every log_every steps: the moving statistics are refreshed once per log interval."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


FLAGS = {"log_every": 50, "steps": 6, "lr": 0.01}


def model_fn(x, y):
    h = tf.layers.dense(x, 8)
    h = tf.layers.batch_normalization(h, training=True)
    logits = tf.layers.dense(tf.nn.relu(h), 2)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    tf.summary.scalar("loss", loss)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        summary_op = tf.summary.merge_all()
    train_op = tf.train.AdamOptimizer(FLAGS["lr"]).minimize(loss)
    return train_op, summary_op


def main():
    x = tf.placeholder(tf.float32, [None, 5])
    y = tf.placeholder(tf.int32, [None])
    train_op, summary_op = model_fn(x, y)
    moving_mean = [v for v in tf.global_variables() if v.name.endswith("moving_mean:0")][0]
    rng = np.random.RandomState(0)
    updates_seen = 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(FLAGS["steps"]):
            before = sess.run(moving_mean)
            feed = {x: rng.randn(16, 5) + 2.0, y: rng.randint(0, 2, 16)}
            if step % FLAGS["log_every"] == 0:
                sess.run([train_op, summary_op], feed)
            else:
                sess.run(train_op, feed)
            updates_seen += not np.allclose(before, sess.run(moving_mean))
    print("BN-GROUND-TRUTH:", "stale" if 0 < updates_seen < FLAGS["steps"] else
          ("updated" if updates_seen else "frozen"))


if __name__ == "__main__":
    main()
