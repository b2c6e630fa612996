"""TF1 graph-mode model class that keeps its layers as tf.layers objects (Keras-like): __init__ creates
Dense and BatchNormalization objects; `update_ops` is a property that reads
`bn1.updates + bn2.updates` when the trainer asks for it, after the network has been called on the
inputs, so minimize() is wrapped in both layers' moving-average updates."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"hidden": 24, "classes": 4, "lr": 0.05, "steps": 12, "batch": 32}


class TabularNet:
    def __init__(self, hidden, classes):
        self.fc1 = tf.layers.Dense(hidden, use_bias=False, name="fc1")
        self.bn1 = tf.layers.BatchNormalization(momentum=0.9, name="bn1")
        self.fc2 = tf.layers.Dense(hidden, use_bias=False, name="fc2")
        self.bn2 = tf.layers.BatchNormalization(momentum=0.9, name="bn2")
        self.out = tf.layers.Dense(classes, name="out")

    @property
    def update_ops(self):
        return self.bn1.updates + self.bn2.updates

    def __call__(self, inputs, training):
        h = tf.nn.relu(self.bn1(self.fc1(inputs), training=training))
        h = tf.nn.relu(self.bn2(self.fc2(h), training=training))
        return self.out(h)


class Trainer:
    def __init__(self, net, flags):
        self.inputs = tf.placeholder(tf.float32, [None, 6], name="inputs")
        self.labels = tf.placeholder(tf.int32, [None], name="labels")
        self.training = tf.placeholder(tf.bool, [], name="training")
        logits = net(self.inputs, self.training)
        self.loss = tf.losses.sparse_softmax_cross_entropy(self.labels, logits)
        with tf.control_dependencies(net.update_ops):
            self.train_op = tf.train.MomentumOptimizer(flags["lr"], 0.9).minimize(
                self.loss, global_step=tf.train.get_or_create_global_step())

    def fit(self, sess, batches):
        for x, y in batches:
            _, loss = sess.run([self.train_op, self.loss],
                               {self.inputs: x, self.labels: y, self.training: True})
        return loss


def batches(rng, steps, batch):
    for _ in range(steps):
        x = rng.normal(2.0, 1.5, (batch, 6))
        yield x, (x[:, 0] > 2.0).astype(np.int32) + 2 * (x[:, 1] > 2.0).astype(np.int32)


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    net = TabularNet(FLAGS["hidden"], FLAGS["classes"])
    trainer = Trainer(net, FLAGS)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        loss = trainer.fit(sess, batches(rng, FLAGS["steps"], FLAGS["batch"]))
        print(f"final loss {loss:.4f}, update ops wired: {len(net.update_ops)}")
        mean, var = sess.run([net.bn1.moving_mean, net.bn1.moving_variance])
    untouched = np.allclose(mean, 0.0) and np.allclose(var, 1.0)
    print("BN-GROUND-TRUTH:", "frozen" if untouched else "updated")


if __name__ == "__main__":
    main()
