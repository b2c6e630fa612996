"""TF1 Trainer with explicit gradient plumbing: tf.gradients on the loss, global-norm clipping,
then the (gradient, variable) pairs are assembled under control_dependencies(UPDATE_OPS) and
applied with apply_gradients. Hyper-parameters come from argparse."""
import argparse
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--clip", type=float, default=2.0)
    parser.add_argument("--bn-momentum", type=float, default=0.8)
    return parser.parse_args(argv)


class Trainer:
    def __init__(self, args):
        self.args = args
        self.images = tf.placeholder(tf.float32, [None, 6, 6, 2], name="images")
        self.labels = tf.placeholder(tf.int64, [None], name="labels")
        self.is_training = tf.placeholder(tf.bool, shape=(), name="is_training")
        logits = self._network(self.images)
        self.loss = tf.losses.sparse_softmax_cross_entropy(self.labels, logits)
        self.train_op = self._optimizer_step(self.loss)

    def _network(self, x):
        h = tf.layers.conv2d(x, 5, 3, padding="same", use_bias=False, name="conv")
        h = tf.layers.batch_normalization(h, training=self.is_training, momentum=self.args.bn_momentum,
                                          name="conv_bn")
        h = tf.reduce_mean(tf.nn.relu(h), axis=[1, 2])
        return tf.layers.dense(h, 3, name="logits")

    def _optimizer_step(self, loss):
        params = tf.trainable_variables()
        grads = tf.gradients(loss, params)
        grads, _ = tf.clip_by_global_norm(grads, self.args.clip)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            grads_and_vars = list(zip(grads, params))
        optimizer = tf.train.MomentumOptimizer(self.args.lr, 0.9)
        return optimizer.apply_gradients(grads_and_vars, global_step=tf.train.get_or_create_global_step())

    def run(self, sess, rng):
        for _ in range(self.args.steps):
            x = rng.randn(self.args.batch_size, 6, 6, 2).astype(np.float32) * 2.0 + 1.5
            y = rng.randint(0, 3, self.args.batch_size)
            sess.run(self.train_op, {self.images: x, self.labels: y, self.is_training: True})


def main():
    args = parse_args([])
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    trainer = Trainer(args)
    moving_mean = tf.get_default_graph().get_tensor_by_name("conv_bn/moving_mean:0")
    moving_var = tf.get_default_graph().get_tensor_by_name("conv_bn/moving_variance:0")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        trainer.run(sess, rng)
        mean, var = sess.run([moving_mean, moving_var])
    print("moving_mean", mean, "moving_variance", var)
    frozen = np.allclose(mean, 0.0) and np.allclose(var, 1.0)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
