"""Class-based TF1 model in the style of many research repositories: a Config object, a Model
class that owns its placeholders (including `self.is_training`) and a Trainer whose
get_feed_dict(batch, is_train) feeds that placeholder. The batch-norm call, however, reads
`self.config.is_training`, a plain Python attribute whose default (False, for the export script)
the training config never overrides. The placeholder is fed True and used by dropout only; BN is
built in inference mode and its moving statistics never move."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Config:
    input_dim = 8
    hidden = 16
    num_classes = 3
    learning_rate = 1e-2
    keep_prob = 0.9
    is_training = False   # export/inference default
    num_steps = 12


class TrainConfig(Config):
    num_steps = 15
    learning_rate = 5e-3


class Model:
    def __init__(self, config):
        self.config = config
        self.inputs = tf.placeholder(tf.float32, [None, config.input_dim], name="inputs")
        self.labels = tf.placeholder(tf.int64, [None], name="labels")
        self.is_training = tf.placeholder(tf.bool, [], name="is_training")
        self.logits = self._build()
        self.loss = tf.losses.sparse_softmax_cross_entropy(self.labels, self.logits)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            self.train_op = tf.train.AdamOptimizer(config.learning_rate).minimize(self.loss)

    def _build(self):
        cfg = self.config
        h = tf.layers.dense(self.inputs, cfg.hidden, use_bias=False, name="fc1")
        h = tf.layers.batch_normalization(h, momentum=0.9, training=cfg.is_training, name="bn1")
        h = tf.nn.relu(h)
        keep = tf.cond(self.is_training, lambda: tf.constant(cfg.keep_prob), lambda: tf.constant(1.0))
        h = tf.nn.dropout(h, rate=1.0 - keep)
        return tf.layers.dense(h, cfg.num_classes, name="logits")


class Trainer:
    def __init__(self, model, sess):
        self.model = model
        self.sess = sess

    def get_feed_dict(self, batch, is_train):
        x, y = batch
        return {self.model.inputs: x, self.model.labels: y, self.model.is_training: is_train}

    def train(self, batches):
        for batch in batches:
            self.sess.run(self.model.train_op, self.get_feed_dict(batch, is_train=True))


def main():
    config = TrainConfig()
    model = Model(config)
    rng = np.random.RandomState(0)
    batches = [(rng.randn(16, config.input_dim) * 2 + 3, rng.randint(0, 3, 16)) for _ in range(config.num_steps)]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        Trainer(model, sess).train(batches)
        mean = sess.run(tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0"))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
