"""A slim.learning.create_train_op look-alike: update ops gate the loss through a barrier, then the gradients."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def create_train_op(total_loss, optimizer, global_step=None):
    update_ops = set(tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    if update_ops:
        with tf.control_dependencies(update_ops):
            barrier = tf.no_op(name="update_barrier")
        with tf.control_dependencies([barrier]):
            total_loss = tf.identity(total_loss)
    grads = optimizer.compute_gradients(total_loss)
    grad_updates = optimizer.apply_gradients(grads, global_step=global_step)
    with tf.control_dependencies([grad_updates]):
        return tf.identity(total_loss, name="train_op")


def model(x, is_training):
    h = tf.layers.dense(x, 10, use_bias=False)
    h = tf.layers.batch_normalization(h, momentum=0.9, training=is_training)
    return tf.layers.dense(tf.nn.relu(h), 1)


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    pred = model(x, is_training=True)
    loss = tf.losses.mean_squared_error(y, pred)
    global_step = tf.train.get_or_create_global_step()
    train_op = create_train_op(loss, tf.train.GradientDescentOptimizer(0.01), global_step)
    moving_mean = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train_op, {x: rng.randn(16, 4) + 3, y: rng.randn(16, 1)})
        print("BN-GROUND-TRUTH:", "updated" if not np.allclose(sess.run(moving_mean), 0) else "frozen")
