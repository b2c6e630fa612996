"""TF1 train/eval split into two graphs (the usual pattern before tf.estimator): `build_model(inputs,
is_training)` builds the network; training builds it with is_training=True, trains with the UPDATE_OPS
recipe and saves a checkpoint; the evaluation script rebuilds the graph in a fresh tf.Graph, restores the
checkpoint and scores the test set. The eval graph is created with `is_training=False`, so BatchNorm
normalizes the test batches with the restored moving statistics: predictions do not depend on the
batch."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_model(inputs, is_training):
    with tf.variable_scope("model"):
        net = tf.layers.dense(inputs, 16, name="fc1")
        net = tf.layers.batch_normalization(net, training=is_training, name="bn1")
        net = tf.nn.relu(net)
        return tf.layers.dense(net, 3, name="logits")


def train(ckpt_path, steps=20):
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, 6])
        labels = tf.placeholder(tf.int64, [None])
        logits = build_model(images, is_training=True)
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
        saver = tf.train.Saver()
        rng = np.random.RandomState(0)
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                xs = rng.randn(32, 6) * 2 + 3
                sess.run(train_op, {images: xs, labels: (xs[:, 0] > 3).astype(np.int64)})
            saver.save(sess, ckpt_path)


def evaluate(ckpt_path, test_x):
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, 6])
        logits = build_model(images, is_training=False)
        probs = tf.nn.softmax(logits)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            saver.restore(sess, ckpt_path)
            one_by_one = np.concatenate([sess.run(probs, {images: test_x[i:i + 2]})[:1]
                                         for i in range(0, len(test_x), 2)])
            together = sess.run(probs, {images: test_x})[::2]
            moving_mean = sess.run(graph.get_tensor_by_name("model/bn1/moving_mean:0"))
            return np.allclose(one_by_one, together, atol=1e-5) and not np.allclose(moving_mean, 0)


if __name__ == "__main__":
    ckpt = os.path.join(tempfile.mkdtemp(), "model.ckpt")
    train(ckpt)
    test_x = np.random.RandomState(1).randn(16, 6) * 2 + 3
    batch_independent = evaluate(ckpt, test_x)
    print("BN-GROUND-TRUTH:", "updated" if batch_independent else "eval-uses-batch-stats")
