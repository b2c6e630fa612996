"""The BN flag is a plain tf.placeholder(tf.bool) fed through make_feed(), whose `training` keyword
defaults to False; the training loop calls make_feed(model, batch) without it. Every training step
runs the batch norm in inference mode (the update ops run but write the unchanged moving values)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

HPARAMS = {"hidden": 16, "lr": 5e-3, "epochs": 2, "batch_size": 16}


class Model:
    def __init__(self, hidden, lr):
        self.x = tf.placeholder(tf.float32, [None, 6], name="x")
        self.y = tf.placeholder(tf.float32, [None, 1], name="y")
        self.training = tf.placeholder(tf.bool, shape=(), name="training")
        h = tf.layers.dense(self.x, hidden)
        h = tf.layers.batch_normalization(h, training=self.training, name="bn")
        self.pred = tf.layers.dense(tf.nn.tanh(h), 1)
        self.loss = tf.losses.mean_squared_error(self.y, self.pred)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            self.train_op = tf.train.AdamOptimizer(lr).minimize(self.loss)


def make_feed(model, batch, training=False):
    x, y = batch
    return {model.x: x, model.y: y, model.training: training}


def iterate(x, y, batch_size):
    for i in range(0, len(x), batch_size):
        yield x[i:i + batch_size], y[i:i + batch_size]


def main():
    rng = np.random.RandomState(0)
    x = rng.randn(64, 6) * 2 + 3
    y = rng.randn(64, 1)
    model = Model(HPARAMS["hidden"], HPARAMS["lr"])
    moving_mean = [v for v in tf.global_variables() if v.name == "bn/moving_mean:0"][0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(HPARAMS["epochs"]):
            for batch in iterate(x, y, HPARAMS["batch_size"]):
                _, loss = sess.run([model.train_op, model.loss], make_feed(model, batch))
            val = sess.run(model.loss, make_feed(model, (x[:16], y[:16])))
            print("epoch", epoch, loss, val)
        mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
