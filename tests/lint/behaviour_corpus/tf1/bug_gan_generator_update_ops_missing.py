"""TF1 GAN: the discriminator optimizer runs the discriminator's UPDATE_OPS, the generator optimizer runs none."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def generator(z):
    with tf.variable_scope("generator"):
        h = tf.layers.dense(z, 8)
        h = tf.nn.relu(tf.layers.batch_normalization(h, training=True))
        return tf.layers.dense(h, 4)


def discriminator(x, reuse=False):
    with tf.variable_scope("discriminator", reuse=reuse):
        h = tf.layers.dense(x, 8)
        h = tf.nn.leaky_relu(tf.layers.batch_normalization(h, training=True))
        return tf.layers.dense(h, 1)


if __name__ == "__main__":
    z = tf.placeholder(tf.float32, [None, 3])
    real = tf.placeholder(tf.float32, [None, 4])
    fake = generator(z)
    d_real, d_fake = discriminator(real), discriminator(fake, reuse=True)
    xent = tf.nn.sigmoid_cross_entropy_with_logits
    d_loss = tf.reduce_mean(xent(labels=tf.ones_like(d_real), logits=d_real)) + \
        tf.reduce_mean(xent(labels=tf.zeros_like(d_fake), logits=d_fake))
    g_loss = tf.reduce_mean(xent(labels=tf.ones_like(d_fake), logits=d_fake))
    d_vars = tf.trainable_variables("discriminator")
    g_vars = tf.trainable_variables("generator")
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="discriminator")):
        d_train = tf.train.AdamOptimizer(2e-3).minimize(d_loss, var_list=d_vars)
    g_train = tf.train.AdamOptimizer(2e-3).minimize(g_loss, var_list=g_vars)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(4):
            feed = {z: rng.randn(16, 3) + 2, real: rng.randn(16, 4) + 1}
            sess.run(d_train, feed)
            sess.run(g_train, feed)
        g_mean = sess.run(tf.get_default_graph().get_tensor_by_name("generator/batch_normalization/moving_mean:0"))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(g_mean, 0) else "updated")
