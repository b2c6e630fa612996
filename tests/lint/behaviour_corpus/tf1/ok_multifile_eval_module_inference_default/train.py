"""python train.py [--max_steps N] -- trains, checkpoints, then runs the evaluation module."""
import argparse
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

import net  # noqa: E402
import net_eval  # noqa: E402

tf.disable_v2_behavior()


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train_dir", default=None)
    parser.add_argument("--max_steps", type=int, default=25)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--learning_rate", type=float, default=0.01)
    return parser.parse_args()


def train(args):
    rng = np.random.RandomState(0)
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        global_step = tf.train.get_or_create_global_step()
        images = tf.placeholder(tf.float32, [None, 6])
        labels = tf.placeholder(tf.int64, [None])
        logits = net.inference(images, is_training=True)
        total_loss = net.loss(logits, labels)
        step_op = net.train_op(total_loss, args.learning_rate, global_step)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(args.max_steps):
                xs = rng.randn(args.batch_size, 6) * 2 + 3
                _, value = sess.run([step_op, total_loss], {images: xs, labels: (xs[:, 0] > 3).astype(np.int64)})
            print("final loss", value)
            saver.save(sess, os.path.join(args.train_dir, "model.ckpt"), global_step=global_step)


def main():
    args = get_args()
    args.train_dir = args.train_dir or tempfile.mkdtemp()
    train(args)
    test_x = np.random.RandomState(1).randn(16, 6) * 2 + 3
    full_batch, small_batches, restored_mean = net_eval.restore_and_predict(args.train_dir, test_x, 16)
    same = np.allclose(full_batch, small_batches, atol=1e-5)
    if np.allclose(restored_mean, 0.0):
        verdict = "frozen"
    else:
        verdict = "updated" if same else "eval-uses-batch-stats"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
