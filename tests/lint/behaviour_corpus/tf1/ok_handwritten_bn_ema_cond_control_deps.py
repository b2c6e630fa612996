"""Hand-written TF1 batch norm from the classic Stack Overflow answer: the train branch of tf.cond
builds ema.apply() and returns the batch moments under control_dependencies([ema_apply_op]), so every
training step updates the ExponentialMovingAverage shadows that the inference branch reads, and a
validation run (phase_train=False) leaves them alone."""
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
            ema_apply_op = ema.apply([batch_mean, batch_var])  # built in the branch: runs only when training
            with tf.control_dependencies([ema_apply_op]):
                return tf.identity(batch_mean), tf.identity(batch_var)

        mean, var = tf.cond(phase_train, mean_var_with_update,
                            lambda: (ema.average(batch_mean), ema.average(batch_var)))
        return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3), ema, batch_mean


def main(steps=6):
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    phase_train = tf.placeholder(tf.bool, name="phase_train")
    h = tf.layers.dense(x, 8, use_bias=False)
    h, ema, batch_mean = batch_norm(h, 8, phase_train)
    pred = tf.layers.dense(tf.nn.relu(h), 1)
    loss = tf.reduce_mean(tf.square(pred - y))
    train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start = sess.run(ema.average(batch_mean))
        for _ in range(steps):
            sess.run(train_op, {x: rng.randn(16, 4) + 3, y: rng.randn(16, 1), phase_train: True})
        end = sess.run(ema.average(batch_mean))
        val_loss = sess.run(loss, {x: rng.randn(16, 4) - 5, y: rng.randn(16, 1), phase_train: False})
        after_val = sess.run(ema.average(batch_mean))
    print("val loss", val_loss)
    # updated by training, and left alone by the validation run on shifted data
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(start, end)
          else "contaminated" if not np.allclose(end, after_val) else "updated")


if __name__ == "__main__":
    main()
