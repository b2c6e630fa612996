"""TF1 training graph whose BN flag is tf.placeholder_with_default(True, name='is_training'): the
training loop relies on the default and evaluate() feeds False. export_frozen() freezes that graph
with convert_variables_to_constants and the serving code imports it with
input_map={'is_training:0': tf.constant(False)}, so the served graph normalises every request with
the trained moving averages."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"steps": 30, "batch_size": 32, "lr": 0.02}


def build_graph():
    images = tf.placeholder(tf.float32, [None, 5], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    is_training = tf.placeholder_with_default(True, shape=[], name="is_training")
    h = tf.layers.dense(images, 10, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    logits = tf.layers.dense(tf.nn.relu(h), 3, name="fc2")
    probs = tf.nn.softmax(logits, name="probs")
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(FLAGS["lr"]).minimize(loss)
    return images, labels, is_training, probs, loss, train_op


def make_batch(rng, n):
    x = rng.randn(n, 5).astype(np.float32) * 1.5 + 2.0
    return x, np.digitize(x[:, 0], [1.5, 2.5]).astype(np.int64)


def export_frozen(sess):
    return tf.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(), ["probs"])


def serve(frozen_graph_def, requests):
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(frozen_graph_def, input_map={"is_training:0": tf.constant(False)}, name="")
        with tf.Session(graph=graph) as sess:
            return sess.run("probs:0", {"images:0": requests})


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    images, labels, is_training, probs, loss, train_op = build_graph()
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(FLAGS["steps"]):
            x, y = make_batch(rng, FLAGS["batch_size"])
            sess.run(train_op, {images: x, labels: y})
        x_val, y_val = make_batch(rng, 64)
        print("val loss", sess.run(loss, {images: x_val, labels: y_val, is_training: False}))
        requests = make_batch(rng, 8)[0] + 1.0
        with_moving = sess.run(probs, {images: requests, is_training: False})
        with_batch = sess.run(probs, {images: requests, is_training: True})
        frozen = export_frozen(sess)
    served = serve(frozen, requests)
    if np.allclose(served, with_moving, atol=1e-5):
        print("BN-GROUND-TRUTH: updated")
    else:
        print("BN-GROUND-TRUTH:", "eval-uses-batch-stats" if np.allclose(served, with_batch, atol=1e-5)
              else "mismatch")


if __name__ == "__main__":
    main()
