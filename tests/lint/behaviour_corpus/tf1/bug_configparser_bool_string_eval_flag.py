"""TF1 train/eval script driven by an .ini config. The graph builder receives `is_training` from the
config section of each phase, read as bool(section['is_training']): configparser returns the string
'false' for the eval section, and bool('false') is True, so the separately built evaluation graph
normalises with batch statistics instead of the moving averages it restored."""
import configparser
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

CONFIG_TEXT = """
[train]
is_training = true
learning_rate = 0.05
steps = 30
batch_size = 32

[eval]
is_training = false
batch_size = 16
"""


def load_config(text):
    parser = configparser.ConfigParser()
    parser.read_string(text)
    return parser


def conv_bn_relu(x, filters, is_training, name):
    with tf.variable_scope(name):
        x = tf.layers.conv2d(x, filters, 3, padding="same", use_bias=False)
        x = tf.layers.batch_normalization(x, training=is_training, name="bn")
        return tf.nn.relu(x)


def build_model(images, is_training):
    x = conv_bn_relu(images, 8, is_training, "block1")
    x = tf.reduce_mean(x, axis=[1, 2])
    return tf.layers.dense(x, 2, name="logits")


def train(cfg, ckpt_path, data):
    section = cfg["train"]
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, 8, 8, 1])
        labels = tf.placeholder(tf.int64, [None])
        logits = build_model(images, is_training=bool(section["is_training"]))
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.MomentumOptimizer(section.getfloat("learning_rate"), 0.9).minimize(loss)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            x, y = data
            batch = section.getint("batch_size")
            for step in range(section.getint("steps")):
                idx = np.random.RandomState(step).choice(len(x), batch)
                sess.run(train_op, {images: x[idx], labels: y[idx]})
            saver.save(sess, ckpt_path)
            moving_mean = graph.get_tensor_by_name("block1/bn/moving_mean:0")
            return not np.allclose(sess.run(moving_mean), 0.0)


def predict(cfg, ckpt_path, x):
    section = cfg["eval"]
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, 8, 8, 1])
        probs = tf.nn.softmax(build_model(images, is_training=bool(section["is_training"])))
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            saver.restore(sess, ckpt_path)
            return sess.run(probs, {images: x})


def main():
    cfg = load_config(CONFIG_TEXT)
    rng = np.random.RandomState(0)
    x = (rng.randn(128, 8, 8, 1) + 2.0).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 2.0).astype(np.int64)
    ckpt = os.path.join(tempfile.mkdtemp(), "model.ckpt")
    stats_moved = train(cfg, ckpt, (x, y))
    test = (rng.randn(16, 8, 8, 1) + 2.0).astype(np.float32)
    full = predict(cfg, ckpt, test)
    alone = predict(cfg, ckpt, test[:2])
    batch_dependent = not np.allclose(full[:2], alone, atol=1e-5)
    print("BN-GROUND-TRUTH:", "eval-uses-batch-stats" if batch_dependent
          else "updated" if stats_moved else "frozen")


if __name__ == "__main__":
    main()
