"""Multi-task TF1 trainer. MultiTaskTrainer wraps a shared encoder; task heads (each with its own
batch norm) are registered afterwards with add_task(), and build() sums the task losses into one
train op run by fit(). build() reads UPDATE_OPS after every head exists."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

OPTS = {"steps": 25, "batch": 16, "lr": 0.05, "momentum": 0.8}


def dense_bn(x, units, is_training, name):
    with tf.variable_scope(name):
        h = tf.layers.dense(x, units, use_bias=False, name="dense")
        h = tf.layers.batch_normalization(h, training=is_training, momentum=OPTS["momentum"], name="bn")
        return tf.nn.relu(h)


class MultiTaskTrainer:
    def __init__(self, inputs, is_training, opts):
        self.inputs = inputs
        self.is_training = is_training
        self.opts = opts
        self.features = dense_bn(inputs, 8, is_training, "encoder")
        self.losses = {}
        self.train_op = None

    def add_task(self, name, labels, num_classes):
        h = dense_bn(self.features, 6, self.is_training, name + "_head")
        logits = tf.layers.dense(h, num_classes, name=name + "_logits")
        self.losses[name] = tf.losses.sparse_softmax_cross_entropy(labels, logits)

    def build(self):
        total = tf.add_n(list(self.losses.values()))
        optimizer = tf.train.GradientDescentOptimizer(self.opts["lr"])
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            self.train_op = optimizer.minimize(total)
        return total

    def fit(self, sess, batches):
        for feed in batches:
            sess.run(self.train_op, feed)


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = tf.placeholder(tf.float32, [None, 10])
    y_kind = tf.placeholder(tf.int64, [None])
    y_size = tf.placeholder(tf.int64, [None])
    is_training = tf.placeholder_with_default(False, shape=(), name="is_training")
    trainer = MultiTaskTrainer(x, is_training, OPTS)
    trainer.add_task("kind", y_kind, 3)
    trainer.add_task("size", y_size, 2)
    trainer.build()

    def batches():
        for _ in range(OPTS["steps"]):
            xb = rng.randn(OPTS["batch"], 10).astype(np.float32) + 2.0
            yield {x: xb, y_kind: rng.randint(0, 3, OPTS["batch"]), y_size: (xb[:, 0] > 2).astype(np.int64),
                   is_training: True}

    stats = {v.name: v for v in tf.global_variables() if "moving_mean" in v.name}
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        trainer.fit(sess, batches())
        values = {name: sess.run(var) for name, var in stats.items()}
    for name, value in sorted(values.items()):
        print(name, np.round(value, 3))
    stuck = [name for name, value in values.items() if np.allclose(value, 0.0)]
    print("BN-GROUND-TRUTH:", "frozen" if stuck else "updated")


if __name__ == "__main__":
    main()
