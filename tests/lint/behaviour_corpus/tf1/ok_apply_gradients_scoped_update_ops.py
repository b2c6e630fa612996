"""compute_gradients/apply_gradients under control_dependencies on the scoped UPDATE_OPS."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_train_op(loss, scope, lr=0.05):
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope=scope)
    opt = tf.train.MomentumOptimizer(lr, 0.9)
    grads_and_vars = opt.compute_gradients(loss)
    clipped = [(tf.clip_by_norm(g, 5.0), v) for g, v in grads_and_vars if g is not None]
    with tf.control_dependencies(update_ops):
        return opt.apply_gradients(clipped)


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 3])
    training = tf.placeholder(tf.bool, [])
    with tf.variable_scope("net"):
        h = tf.layers.batch_normalization(tf.layers.dense(x, 4), training=training)
        out = tf.layers.dense(h, 1)
    loss = tf.reduce_mean(out ** 2)
    train_op = build_train_op(loss, scope="net")
    mm = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {x: rng.randn(8, 3) + 2, training: True})
        print("BN-GROUND-TRUTH:", "updated" if not np.allclose(sess.run(mm), 0) else "frozen")
