"""Estimator-style model_fn ported off tf.estimator: model_fn(features, labels, mode) derives
training = (mode == ModeKeys.TRAIN), and the script builds a TRAIN graph and an EVAL graph that
share variables through a checkpoint. The TRAIN graph runs the UPDATE_OPS with the train op, the
EVAL graph normalizes with the restored moving statistics."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class ModeKeys:
    TRAIN = "train"
    EVAL = "eval"


def model_fn(features, labels, mode):
    training = mode == ModeKeys.TRAIN
    h = tf.layers.dense(features, 8, use_bias=False, name="fc")
    h = tf.nn.relu(tf.layers.batch_normalization(h, training=training, name="bn"))
    logits = tf.layers.dense(h, 2, name="head")
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    if mode == ModeKeys.TRAIN:
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            train_op = tf.train.AdamOptimizer(1e-2).minimize(loss, global_step=tf.train.get_or_create_global_step())
        return loss, train_op
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    return loss, accuracy


def input_fn(rng, n=16):
    return rng.randn(n, 4).astype("float32") + 2, rng.randint(0, 2, n).astype("int64")


def train(ckpt_dir, rng, steps=5):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.placeholder(tf.int64, [None])
        loss, train_op = model_fn(x, y, ModeKeys.TRAIN)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                xb, yb = input_fn(rng)
                sess.run(train_op, {x: xb, y: yb})
            return saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"))


def evaluate(ckpt, rng):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.placeholder(tf.int64, [None])
        loss, accuracy = model_fn(x, y, ModeKeys.EVAL)
        moving_mean = tf.get_default_graph().get_tensor_by_name("bn/moving_mean:0")
        with tf.Session() as sess:
            tf.train.Saver().restore(sess, ckpt)
            xb, yb = input_fn(rng)
            print("eval accuracy", sess.run(accuracy, {x: xb, y: yb}))
            return sess.run(moving_mean)


def main():
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as ckpt_dir:
        restored_mean = evaluate(train(ckpt_dir, rng), rng)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(restored_mean, 0) else "updated")


if __name__ == "__main__":
    main()
