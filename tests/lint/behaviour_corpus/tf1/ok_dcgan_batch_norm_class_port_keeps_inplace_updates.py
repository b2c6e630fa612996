"""DCGAN-style TF1 code (ops.py `batch_norm` class + model with d_optim/g_optim). The original
class called tf.contrib.layers.batch_norm(..., updates_collections=None), which runs the moving
average updates in place, so the training script never touches UPDATE_OPS. The port to
tf.compat.v1.layers.batch_normalization keeps that contract: the class takes the update ops the
layer just added and makes its output depend on them (tf.control_dependencies + tf.identity), so
every forward in training mode updates the moving statistics and the train=False sampler uses
them."""
import os
import random

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


class batch_norm(object):
    def __init__(self, epsilon=1e-5, momentum=0.9, name="batch_norm"):
        self.epsilon = epsilon
        self.momentum = momentum
        self.name = name

    def __call__(self, x, train=True):
        # updates_collections=None semantics: the moving averages are updated in place
        collected = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        out = v1.layers.batch_normalization(x, momentum=self.momentum, epsilon=self.epsilon, scale=True,
                                            training=train, name=self.name, reuse=v1.AUTO_REUSE)
        own_updates = v1.get_collection(v1.GraphKeys.UPDATE_OPS)[len(collected):]
        with tf.control_dependencies(own_updates):
            return tf.identity(out)


class DCGAN(object):
    def __init__(self, z_dim=6, data_dim=4, width=24, batch_size=32):
        self.z_dim, self.data_dim, self.width, self.batch_size = z_dim, data_dim, width, batch_size
        self.g_bn0 = batch_norm(name="g_bn0")
        self.d_bn1 = batch_norm(name="d_bn1")
        self.build_model()

    def generator(self, z, train=True):
        with v1.variable_scope("generator", reuse=v1.AUTO_REUSE):
            h0 = tf.nn.relu(self.g_bn0(v1.layers.dense(z, self.width, name="g_h0_lin"), train=train))
            return v1.layers.dense(h0, self.data_dim, name="g_h1_lin")

    def discriminator(self, x):
        with v1.variable_scope("discriminator", reuse=v1.AUTO_REUSE):
            h0 = tf.nn.leaky_relu(v1.layers.dense(x, self.width, name="d_h0_lin"), 0.2)
            h1 = tf.nn.leaky_relu(self.d_bn1(v1.layers.dense(h0, self.width, name="d_h1_lin")), 0.2)
            return v1.layers.dense(h1, 1, name="d_h2_lin")

    def build_model(self):
        self.inputs = v1.placeholder(tf.float32, [None, self.data_dim], name="real_images")
        self.z = v1.placeholder(tf.float32, [None, self.z_dim], name="z")
        self.G = self.generator(self.z)
        self.sampler = self.generator(self.z, train=False)
        d_logits_real = self.discriminator(self.inputs)
        d_logits_fake = self.discriminator(self.G)
        xent = tf.nn.sigmoid_cross_entropy_with_logits
        self.d_loss = tf.reduce_mean(xent(logits=d_logits_real, labels=tf.ones_like(d_logits_real))) + \
            tf.reduce_mean(xent(logits=d_logits_fake, labels=tf.zeros_like(d_logits_fake)))
        self.g_loss = tf.reduce_mean(xent(logits=d_logits_fake, labels=tf.ones_like(d_logits_fake)))
        t_vars = v1.trainable_variables()
        self.d_vars = [v for v in t_vars if "d_" in v.name]
        self.g_vars = [v for v in t_vars if "g_" in v.name]

    def train(self, sess, steps, learning_rate=2e-3, beta1=0.5):
        d_optim = v1.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(self.d_loss, var_list=self.d_vars)
        g_optim = v1.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(self.g_loss, var_list=self.g_vars)
        sess.run(v1.global_variables_initializer())
        rng = np.random.RandomState(0)
        for step in range(steps):
            batch = rng.randn(self.batch_size, self.data_dim).astype(np.float32) * 0.5 + 2.0
            batch_z = rng.uniform(-1, 1, [self.batch_size, self.z_dim]).astype(np.float32)
            sess.run(d_optim, feed_dict={self.inputs: batch, self.z: batch_z})
            sess.run(g_optim, feed_dict={self.z: batch_z})
            sess.run(g_optim, feed_dict={self.z: batch_z})
            if step % 10 == 0:
                errD, errG = sess.run([self.d_loss, self.g_loss], {self.inputs: batch, self.z: batch_z})
                print(f"step {step}: d_loss {errD:.3f} g_loss {errG:.3f}")


def main():
    random.seed(0)
    v1.set_random_seed(0)
    gan = DCGAN()
    with v1.Session() as sess:
        gan.train(sess, steps=20)
        sample_z = np.random.RandomState(1).uniform(-1, 1, [8, gan.z_dim]).astype(np.float32)
        samples = sess.run(gan.sampler, {gan.z: sample_z})
        print("sample mean", np.round(samples.mean(0), 2))
        g_bn0_mean = [v for v in v1.global_variables() if v.name == "generator/g_bn0/moving_mean:0"][0]
        moving_mean = sess.run(g_bn0_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
