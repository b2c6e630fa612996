"""python train.py -- train, export the weights to .npz, then run evaluate.py on them."""
import argparse
import os
import shutil
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

from evaluate import evaluate  # noqa: E402
from model import Network  # noqa: E402
from utils import save_npz  # noqa: E402

tf.disable_v2_behavior()


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--out_dir", default=None)
    return parser.parse_args([])


def make_data(rng, n):
    xs = (rng.randn(n, 4) * 2.0 + 5.0).astype(np.float32)
    return xs, (xs[:, 0] + xs[:, 1] > 10.0).astype(np.int64)


def main():
    args = parse_args()
    rng = np.random.RandomState(0)
    tf.set_random_seed(0)
    x_train, y_train = make_data(rng, 512)
    x_test, y_test = make_data(rng, 128)

    inputs = tf.placeholder(tf.float32, [None, 4], name="inputs")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    is_training = tf.placeholder(tf.bool, [], name="is_training")
    net = Network(inputs, is_training)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, net.outputs)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.GradientDescentOptimizer(args.lr).minimize(loss)

    out_dir = args.out_dir or tempfile.mkdtemp()
    weights_path = os.path.join(out_dir, "model.npz")
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(args.steps):
            idx = rng.randint(0, len(x_train), args.batch_size)
            _, value = sess.run([train_op, loss], {inputs: x_train[idx], labels: y_train[idx], is_training: True})
            if step % 20 == 0:
                print(f"step {step} loss {value:.4f}")
        trained_mean = sess.run(tf.get_default_graph().get_tensor_by_name("net/bn1/moving_mean:0"))
        save_npz(sess, net.all_params, weights_path)

    acc, loaded_mean = evaluate(weights_path, x_test, y_test)
    if args.out_dir is None:
        shutil.rmtree(out_dir)
    print(f"test acc {acc:.3f}")
    if np.allclose(trained_mean, 0.0):
        verdict = "frozen"
    elif np.allclose(loaded_mean, trained_mean):
        verdict = "updated"
    elif np.allclose(loaded_mean, 0.0):
        verdict = "stale"
    else:
        verdict = "mismatched"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
