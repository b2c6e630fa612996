"""Release checkpoint written by a TF1 training script that wants 'weights only' (no Adam slots,
no step counter): release_variables() keeps every global variable except those whose names contain
an optimizer/bookkeeping marker (Adam, beta1_power, beta2_power, global_step), and both the release
Saver and the inference loader use that list: moving_mean/moving_variance are kept and restored."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tempfile  # noqa: E402

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

SKIP_MARKERS = ("Adam", "beta1_power", "beta2_power", "global_step")


def release_variables():
    return [v for v in v1.global_variables() if not any(m in v.op.name for m in SKIP_MARKERS)]


def build_net(features, training):
    with v1.variable_scope("tagger"):
        h = v1.layers.dense(features, 16, use_bias=False, name="fc1")
        h = tf.nn.relu(v1.layers.batch_normalization(h, training=training, name="bn1"))
        h = v1.layers.dense(h, 16, use_bias=False, name="fc2")
        h = tf.nn.relu(v1.layers.batch_normalization(h, training=training, name="bn2"))
        return v1.layers.dense(h, 2, name="out")


def train(ckpt_prefix, rng):
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 5])
        y = v1.placeholder(tf.int64, [None])
        logits = build_net(x, training=True)
        loss = v1.losses.sparse_softmax_cross_entropy(y, logits)
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = v1.train.AdamOptimizer(0.01).minimize(loss)
        saver = v1.train.Saver(var_list=release_variables())
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(15):
                xb = rng.randn(32, 5) + 1.0
                sess.run(train_op, {x: xb, y: (xb[:, 1] > 1.0).astype(np.int64)})
            saver.save(sess, ckpt_prefix)


def load_for_inference(ckpt_prefix):
    graph = tf.Graph()
    with graph.as_default():
        x = v1.placeholder(tf.float32, [None, 5])
        build_net(x, training=False)
        loader = v1.train.Saver(var_list=release_variables())
        moving = [v for v in v1.global_variables() if "moving_" in v.name]
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            loader.restore(sess, ckpt_prefix)
            return sess.run(moving)


def main():
    rng = np.random.RandomState(5)
    ckpt_prefix = os.path.join(tempfile.mkdtemp(), "release")
    train(ckpt_prefix, rng)
    values = load_for_inference(ckpt_prefix)
    lost = all(np.allclose(v, 0.0) or np.allclose(v, 1.0) for v in values)
    print("BN-GROUND-TRUTH:", "lost" if lost else "restored")


if __name__ == "__main__":
    main()
