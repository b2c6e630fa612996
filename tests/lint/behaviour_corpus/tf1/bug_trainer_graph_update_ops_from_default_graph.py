"""Trainer class that owns its tf.Graph; the train op reads UPDATE_OPS through the module-level helper."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


class Config:
    learning_rate = 1e-2
    epochs = 3
    batches_per_epoch = 4
    batch_size = 16
    width = 8


def conv_net(images, is_training, width):
    h = v1.layers.conv2d(images, width, 3, padding="same", use_bias=False, name="conv1")
    h = v1.layers.batch_normalization(h, training=is_training, name="bn1")
    h = tf.reduce_mean(tf.nn.relu(h), axis=[1, 2])
    return v1.layers.dense(h, 3, name="logits")


class Trainer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.graph = tf.Graph()
        with self.graph.as_default():
            v1.set_random_seed(1)
            self.images = v1.placeholder(tf.float32, [None, 6, 6, 2], name="images")
            self.labels = v1.placeholder(tf.int64, [None], name="labels")
            self.is_training = v1.placeholder_with_default(False, [], name="is_training")
            logits = conv_net(self.images, self.is_training, cfg.width)
            self.loss = v1.losses.sparse_softmax_cross_entropy(self.labels, logits)
        self._build_train_op()
        with self.graph.as_default():
            self.init_op = v1.global_variables_initializer()
            self.moving_mean = [v for v in v1.global_variables() if v.op.name == "bn1/moving_mean"][0]
        self.sess = v1.Session(graph=self.graph)

    def _build_train_op(self):
        update_ops = v1.get_collection(v1.GraphKeys.UPDATE_OPS)
        with self.graph.as_default(), tf.control_dependencies(update_ops):
            self.train_op = v1.train.MomentumOptimizer(self.cfg.learning_rate, 0.9).minimize(self.loss)

    def batches(self, rng):
        for _ in range(self.cfg.batches_per_epoch):
            x = rng.normal(1.5, 2.0, (self.cfg.batch_size, 6, 6, 2)).astype(np.float32)
            yield x, rng.integers(0, 3, self.cfg.batch_size)

    def fit(self):
        rng = np.random.default_rng(0)
        self.sess.run(self.init_op)
        for epoch in range(self.cfg.epochs):
            for x, y in self.batches(rng):
                feed = {self.images: x, self.labels: y, self.is_training: True}
                _, loss = self.sess.run([self.train_op, self.loss], feed)
            print(f"epoch {epoch} loss {loss:.3f}")
        return self.sess.run(self.moving_mean)


if __name__ == "__main__":
    trainer = Trainer(Config())
    stats = trainer.fit()
    print("BN-GROUND-TRUTH:", "updated" if np.abs(stats).max() > 1e-3 else "frozen")
