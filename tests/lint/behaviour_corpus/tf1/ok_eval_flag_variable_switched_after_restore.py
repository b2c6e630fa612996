"""TF1 train/eval script pair in one file. The Classifier keeps its BN mode in a non-trainable bool
tf.Variable (so one graph can switch modes with assign ops). train() builds the graph with the flag
initialised True and saves a checkpoint with tf.train.Saver(); evaluate() builds a fresh graph,
prepares the session with prepare_session() and reports accuracy on the test split. The flag is saved
in the checkpoint too, so prepare_session() switches it to inference after saver.restore()."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

SETTINGS = dict(steps=40, batch=32, lr=0.05, momentum=0.7, ckpt_name="classifier.ckpt")


class Classifier:
    def __init__(self, training):
        self.images = tf.placeholder(tf.float32, [None, 8], name="images")
        self.labels = tf.placeholder(tf.int64, [None], name="labels")
        self.bn_training = tf.get_variable("bn_training", initializer=training, trainable=False, dtype=tf.bool)
        self.mode_value = tf.placeholder(tf.bool, shape=(), name="mode_value")
        self.set_mode = tf.assign(self.bn_training, self.mode_value)
        h = tf.layers.dense(self.images, 6, use_bias=False, name="fc1")
        h = tf.layers.batch_normalization(h, training=self.bn_training, momentum=SETTINGS["momentum"], name="bn1")
        self.logits = tf.layers.dense(tf.nn.relu(h), 2, name="out")
        self.loss = tf.losses.sparse_softmax_cross_entropy(self.labels, self.logits)
        hits = tf.equal(tf.argmax(self.logits, 1), self.labels)
        self.accuracy = tf.reduce_mean(tf.cast(hits, tf.float32))

    def switch(self, sess, training):
        sess.run(self.set_mode, {self.mode_value: training})


def sample(rng, n):
    x = rng.randn(n, 8).astype(np.float32) * 2.0 + 4.0
    y = (x[:, 0] + x[:, 1] > 8.0).astype(np.int64)
    return x, y


def train(ckpt_path, rng):
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        model = Classifier(training=True)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.GradientDescentOptimizer(SETTINGS["lr"]).minimize(model.loss)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(SETTINGS["steps"]):
                x, y = sample(rng, SETTINGS["batch"])
                sess.run(train_op, {model.images: x, model.labels: y})
            saver.save(sess, ckpt_path)
            return sess.run(graph.get_tensor_by_name("bn1/moving_mean:0"))


def prepare_session(sess, model, saver, ckpt_path):
    sess.run(tf.global_variables_initializer())
    saver.restore(sess, ckpt_path)
    model.switch(sess, False)


def evaluate(ckpt_path, rng):
    with tf.Graph().as_default() as graph:
        model = Classifier(training=False)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            prepare_session(sess, model, saver, ckpt_path)
            x, y = sample(rng, 64)
            print("test accuracy", sess.run(model.accuracy, {model.images: x, model.labels: y}))
            # measurement: does one example's output depend on the rest of the batch?
            alone = sess.run(model.logits, {model.images: x[:1]})
            in_batch = sess.run(model.logits, {model.images: x})[:1]
            restored_mean = sess.run(graph.get_tensor_by_name("bn1/moving_mean:0"))
    return alone, in_batch, restored_mean


def main():
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt_path = os.path.join(tmp, SETTINGS["ckpt_name"])
        trained_mean = train(ckpt_path, rng)
        alone, in_batch, restored_mean = evaluate(ckpt_path, rng)
    print("trained moving_mean", trained_mean, "restored", restored_mean)
    if np.allclose(trained_mean, 0.0):
        verdict = "frozen"
    elif not np.allclose(alone, in_batch, atol=1e-5):
        verdict = "eval-uses-batch-stats"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
