"""python train.py -- trains the classifier described in config.py."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

import config as cfg  # noqa: E402
from model import build_model  # noqa: E402
from trainer import make_train_op, run_training  # noqa: E402

tf.disable_v2_behavior()


def sample_batches(rng):
    """Batches from shards with different offsets, as the sharded reader delivers them."""
    batches = []
    for _ in range(cfg.TRAIN_STEPS):
        offset = rng.randn() * 2.0
        xs = rng.randn(cfg.BATCH_SIZE, cfg.NUM_FEATURES) + 3.0 + offset
        batches.append((xs.astype(np.float32), (xs[:, 0] > 3.0 + offset).astype(np.int64)))
    return batches


def main():
    rng = np.random.RandomState(cfg.SEED)
    tf.set_random_seed(cfg.SEED)
    inputs = tf.placeholder(tf.float32, [None, cfg.NUM_FEATURES], name="inputs")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    logits = build_model(inputs, is_training, cfg.NUM_CLASSES, cfg.HIDDEN)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = make_train_op(loss, cfg.LEARNING_RATE)

    graph = tf.get_default_graph()
    bn_input = graph.get_tensor_by_name("net/block1/fc/MatMul:0")
    moving_mean = graph.get_tensor_by_name("net/block1/bn/moving_mean:0")

    batches = sample_batches(rng)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        feeds = [{inputs: xs, labels: ys, is_training: True} for xs, ys in batches]
        run_training(sess, train_op, loss, feeds)
        moving = sess.run(moving_mean)
        last = sess.run(bn_input, {inputs: batches[-1][0]}).mean(axis=0)
        overall = sess.run(bn_input, {inputs: np.concatenate([b[0] for b in batches])}).mean(axis=0)
    to_last = np.abs(moving - last).mean()
    to_overall = np.abs(moving - overall).mean()
    print(f"|moving - last batch| {to_last:.4f}  |moving - all batches| {to_overall:.4f}")
    if np.allclose(moving, 0.0):
        verdict = "frozen"
    else:
        verdict = "jumped" if to_last < to_overall else "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
