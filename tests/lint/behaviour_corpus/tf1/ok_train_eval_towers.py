"""Separate train and eval towers sharing variables: build_model(is_training) with a Python bool."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_model(x, is_training, reuse):
    with tf.variable_scope("model", reuse=reuse):
        h = tf.layers.dense(x, 8, name="fc")
        h = tf.layers.batch_normalization(h, training=is_training, name="bn")
        return tf.layers.dense(tf.nn.relu(h), 2, name="logits")


if __name__ == "__main__":
    train_x = tf.placeholder(tf.float32, [None, 4])
    train_y = tf.placeholder(tf.int32, [None])
    eval_x = tf.placeholder(tf.float32, [None, 4])
    train_logits = build_model(train_x, is_training=True, reuse=False)
    eval_logits = build_model(eval_x, is_training=False, reuse=True)
    loss = tf.losses.sparse_softmax_cross_entropy(train_y, train_logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    mm = tf.get_default_graph().get_tensor_by_name("model/bn/moving_mean:0")
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {train_x: rng.randn(16, 4) + 2, train_y: rng.randint(0, 2, 16)})
        trained = sess.run(mm)
        sess.run(eval_logits, {eval_x: rng.randn(16, 4) * 5})
        ok = not np.allclose(trained, 0) and np.allclose(trained, sess.run(mm))
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
