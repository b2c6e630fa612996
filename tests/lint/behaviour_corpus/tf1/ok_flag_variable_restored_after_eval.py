"""TF1 Trainer keeping the BN mode in a non-trainable boolean tf.Variable (no feed needed at every
sess.run). fit() switches it to True once before the epoch loop; evaluate() assigns False for the
validation pass and assigns True again in a finally block, so every epoch trains with training=True."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

HPARAMS = {"hidden": 16, "learning_rate": 1e-2, "epochs": 3, "steps_per_epoch": 4, "batch_size": 32}


def mlp_with_bn(inputs, hidden, is_training):
    h = tf.layers.dense(inputs, hidden, use_bias=False, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    h = tf.nn.relu(h)
    return tf.layers.dense(h, 1, name="out")


class Trainer:
    def __init__(self, hparams):
        self.hparams = hparams
        self.inputs = tf.placeholder(tf.float32, [None, 6], name="inputs")
        self.targets = tf.placeholder(tf.float32, [None, 1], name="targets")
        self.is_training = tf.Variable(True, trainable=False, name="is_training")
        self.set_training = tf.assign(self.is_training, True)
        self.set_inference = tf.assign(self.is_training, False)
        preds = mlp_with_bn(self.inputs, hparams["hidden"], self.is_training)
        self.loss = tf.reduce_mean(tf.square(preds - self.targets))
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            self.train_op = tf.train.AdamOptimizer(hparams["learning_rate"]).minimize(self.loss)
        self.sess = tf.Session()
        self.sess.run(tf.global_variables_initializer())

    def batches(self, rng, shift):
        for _ in range(self.hparams["steps_per_epoch"]):
            x = rng.randn(self.hparams["batch_size"], 6) + shift
            yield x, x.sum(axis=1, keepdims=True)

    def evaluate(self, rng):
        self.sess.run(self.set_inference)
        try:
            losses = [self.sess.run(self.loss, {self.inputs: x, self.targets: y}) for x, y in self.batches(rng, 0.0)]
        finally:
            self.sess.run(self.set_training)
        return float(np.mean(losses))

    def fit(self, rng):
        moving_mean = tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0")
        history = []
        self.sess.run(self.set_training)
        for epoch in range(self.hparams["epochs"]):
            before = self.sess.run(moving_mean)
            for x, y in self.batches(rng, 2.0):
                self.sess.run(self.train_op, {self.inputs: x, self.targets: y})
            history.append(not np.allclose(before, self.sess.run(moving_mean)))
            print(f"epoch {epoch} val loss {self.evaluate(rng):.3f}")
        return history


def main():
    trainer = Trainer(HPARAMS)
    moved = trainer.fit(np.random.RandomState(0))
    print("BN-GROUND-TRUTH:", "updated" if all(moved) else "stale" if moved[0] else "frozen")


if __name__ == "__main__":
    main()
