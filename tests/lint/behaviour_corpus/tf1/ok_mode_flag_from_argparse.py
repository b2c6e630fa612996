"""One script, two modes: --mode train builds the graph with training=True (update ops wired), eval with False."""
import argparse
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build(x, is_training):
    h = tf.layers.dense(x, 6, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    return tf.layers.dense(tf.nn.relu(h), 1, name="out")


def run(args, ckpt):
    tf.reset_default_graph()
    x = tf.placeholder(tf.float32, [None, 3])
    pred = build(x, is_training=args.mode == "train")
    saver = tf.train.Saver()
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        if args.mode == "train":
            loss = tf.reduce_mean(tf.square(pred - 1.0))
            with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
                train_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
            sess.run(tf.global_variables_initializer())
            for _ in range(args.steps):
                sess.run(train_op, {x: rng.randn(16, 3) + 2})
            saver.save(sess, ckpt)
        else:
            saver.restore(sess, ckpt)
            sess.run(pred, {x: rng.randn(16, 3) - 5})
        return sess.run(tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["train", "eval"], default="train")
    parser.add_argument("--steps", type=int, default=4)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "model.ckpt")
        trained = run(parser.parse_args(["--mode", "train"]), ckpt)
        evaluated = run(parser.parse_args(["--mode", "eval"]), ckpt)
    ok = not np.allclose(trained, 0) and np.allclose(trained, evaluated)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
