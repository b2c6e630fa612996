"""TF1 model class exposes its BN flag as a @property that returns
tf.placeholder_with_default(False, ...). Every access builds a NEW placeholder: the one read while
building the BN layer is not the one read by feed_dict() when the trainer feeds True, so the train
op runs BatchNormalization with training=False and the update ops (wired correctly) never move the
moving statistics."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class TabularClassifier:
    def __init__(self, n_features, n_classes, lr=0.01):
        self.inputs = tf.placeholder(tf.float32, [None, n_features], name="inputs")
        self.labels = tf.placeholder(tf.int64, [None], name="labels")
        self.logits = self._network(n_classes)
        self.loss = tf.losses.sparse_softmax_cross_entropy(self.labels, self.logits)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            self.train_op = tf.train.AdamOptimizer(lr).minimize(self.loss)

    @property
    def is_training(self):
        return tf.placeholder_with_default(False, shape=[], name="is_training")

    def _network(self, n_classes):
        with tf.variable_scope("net"):
            h = tf.layers.dense(self.inputs, 16, use_bias=False)
            h = tf.layers.batch_normalization(h, training=self.is_training, name="bn")
            return tf.layers.dense(tf.nn.relu(h), n_classes)

    def feed_dict(self, x, y, training):
        return {self.inputs: x, self.labels: y, self.is_training: training}


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    model = TabularClassifier(n_features=7, n_classes=3)
    moving_mean = tf.global_variables("net/bn/moving_mean")[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(8):
            x = rng.randn(32, 7) + 1.5
            y = rng.randint(0, 3, 32)
            _, loss = sess.run([model.train_op, model.loss], model.feed_dict(x, y, True))
        x_val = rng.randn(32, 7) + 1.5
        val_loss = sess.run(model.loss, model.feed_dict(x_val, rng.randint(0, 3, 32), False))
        print(f"train loss {loss:.3f} val loss {val_loss:.3f}")
        mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
