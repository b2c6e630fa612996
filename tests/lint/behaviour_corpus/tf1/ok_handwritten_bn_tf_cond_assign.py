"""The classic hand-written TF1 batch norm: tf.nn.moments + ExponentialMovingAverage applied under tf.cond."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def batch_norm(x, n_out, phase_train, scope="bn"):
    with tf.variable_scope(scope):
        beta = tf.Variable(tf.zeros([n_out]), name="beta")
        gamma = tf.Variable(tf.ones([n_out]), name="gamma")
        batch_mean, batch_var = tf.nn.moments(x, [0], name="moments")
        ema = tf.train.ExponentialMovingAverage(decay=0.5)

        def mean_var_with_update():
            ema_apply_op = ema.apply([batch_mean, batch_var])
            with tf.control_dependencies([ema_apply_op]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        mean, var = tf.cond(phase_train, mean_var_with_update,
                            lambda: (ema.average(batch_mean), ema.average(batch_var)))
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3), ema.average(batch_mean)


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    phase_train = tf.placeholder(tf.bool, name="phase_train")
    h = tf.layers.dense(x, 6)
    normed, moving_mean = batch_norm(h, 6, phase_train)
    loss = tf.reduce_mean(tf.square(tf.layers.dense(tf.nn.relu(normed), 1) - y))
    train_op = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            sess.run(train_op, {x: rng.randn(16, 4) + 2, y: rng.randn(16, 1), phase_train: True})
        trained = sess.run(moving_mean)
        sess.run(loss, {x: rng.randn(16, 4) - 5, y: rng.randn(16, 1), phase_train: False})
        after_eval = sess.run(moving_mean)
    ok = not np.allclose(trained, 0) and np.allclose(trained, after_eval)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
