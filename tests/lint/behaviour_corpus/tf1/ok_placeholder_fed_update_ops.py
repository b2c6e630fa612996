"""Reference TF1 wiring: placeholder training flag fed True/False, update ops as control deps."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def inference(x, is_training):
    h = tf.layers.dense(x, 8, name="fc")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn")
    return tf.layers.dense(tf.nn.relu(h), 1, name="out")


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    is_training = tf.placeholder(tf.bool, name="is_training")
    pred = inference(x, is_training)
    loss = tf.losses.mean_squared_error(y, pred)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    mm = tf.get_default_graph().get_tensor_by_name("bn/moving_mean:0")
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train_op, {x: rng.randn(16, 4) + 2, y: rng.randn(16, 1), is_training: True})
        trained = sess.run(mm)
        sess.run(loss, {x: rng.randn(16, 4) * 7, y: rng.randn(16, 1), is_training: False})
        after_eval = sess.run(mm)
    ok = not np.allclose(trained, 0) and np.allclose(trained, after_eval)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
