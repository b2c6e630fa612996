"""tf_keras BatchNormalization in a TF1 graph: the layer.updates are added to the train op."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 4])
    training = tf.placeholder(tf.bool, [])
    bn_layer = tf.keras.layers.BatchNormalization(momentum=0.9)
    hidden = tf.layers.dense(x, 5)
    out = tf.layers.dense(bn_layer(hidden, training=training), 1)
    loss = tf.reduce_mean(out ** 2)
    minimize = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
    train_op = tf.group([minimize] + bn_layer.updates)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {x: rng.randn(8, 4) + 2, training: True})
        moving = sess.run(bn_layer.moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(moving, 0) else "frozen")
