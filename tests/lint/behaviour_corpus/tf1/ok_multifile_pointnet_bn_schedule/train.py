"""python train.py -- PointNet-style training script: module-level hyper-parameters, a BN momentum
schedule ported from the project's PyTorch trainer (BNMomentumScheduler), train_one_epoch / eval_one_epoch."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

import model as MODEL  # noqa: E402

tf.disable_v2_behavior()

BATCH_SIZE = 8
NUM_POINT = 16
MAX_EPOCH = 4
STEPS_PER_EPOCH = 5
BASE_LEARNING_RATE = 0.005
# BN momentum schedule of the PyTorch trainer: bn_lambda = max(0.5 * 0.5 ** (it // 4), 0.01)
BN_MOMENTUM = 0.5
BN_DECAY_RATE = 0.5
BN_DECAY_STEP = 4
BN_CLIP = 0.01


def bn_lambda(step):
    it = tf.cast(step, tf.float32)
    return tf.maximum(BN_MOMENTUM * tf.pow(BN_DECAY_RATE, tf.floor(it / BN_DECAY_STEP)), BN_CLIP)


def get_bn_decay(step):
    bn_momentum = bn_lambda(step)
    return 1.0 - bn_momentum  # TF BN takes the decay (weight of the old average)


def make_clouds(rng, n_batches):
    batches = []
    for _ in range(n_batches):
        scale = rng.uniform(0.5, 3.0)
        labels = rng.randint(0, 4, size=BATCH_SIZE)
        clouds = rng.randn(BATCH_SIZE, NUM_POINT, 3) * scale + labels[:, None, None] * 0.5
        batches.append((clouds.astype(np.float32), labels.astype(np.int64)))
    return batches


def train_one_epoch(sess, ops, batches):
    for clouds, labels in batches:
        sess.run(ops["train_op"], {ops["pointclouds_pl"]: clouds, ops["labels_pl"]: labels,
                                   ops["is_training_pl"]: True})


def eval_one_epoch(sess, ops, batches):
    correct = 0
    for clouds, labels in batches:
        pred = sess.run(ops["pred"], {ops["pointclouds_pl"]: clouds, ops["is_training_pl"]: False})
        correct += int(np.sum(np.argmax(pred, 1) == labels))
    return correct / float(len(batches) * BATCH_SIZE)


def train():
    rng = np.random.RandomState(0)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        pointclouds_pl, labels_pl = MODEL.placeholder_inputs(BATCH_SIZE, NUM_POINT)
        is_training_pl = tf.placeholder(tf.bool, shape=(), name="is_training")
        batch = tf.Variable(0, trainable=False, name="batch")
        bn_decay = get_bn_decay(batch)
        pred = MODEL.get_model(pointclouds_pl, is_training_pl, bn_decay=bn_decay)
        loss = MODEL.get_loss(pred, labels_pl)
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            train_op = tf.train.AdamOptimizer(BASE_LEARNING_RATE).minimize(loss, global_step=batch)
        ops = {"pointclouds_pl": pointclouds_pl, "labels_pl": labels_pl, "is_training_pl": is_training_pl,
               "pred": pred, "train_op": train_op}
        graph = tf.get_default_graph()
        bn_input = graph.get_tensor_by_name("mlp1/dense/MatMul:0")
        moving_mean = graph.get_tensor_by_name("mlp1/bn/moving_mean:0")

        seen = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for epoch in range(MAX_EPOCH):
                batches = make_clouds(rng, STEPS_PER_EPOCH)
                seen.extend(batches)
                train_one_epoch(sess, ops, batches)
                print(f"epoch {epoch} acc {eval_one_epoch(sess, ops, make_clouds(rng, 2)):.3f} "
                      f"bn_decay {sess.run(bn_decay):.3f}")
            moving = sess.run(moving_mean)
            per_batch = [sess.run(bn_input, {pointclouds_pl: c, is_training_pl: True}).mean(axis=0) for c, _ in seen]
    last, overall = per_batch[-1], np.mean(per_batch, axis=0)
    to_last, to_overall = np.abs(moving - last).mean(), np.abs(moving - overall).mean()
    print(f"|moving - last batch| {to_last:.4f}  |moving - all batches| {to_overall:.4f}")
    if np.allclose(moving, 0.0):
        verdict = "frozen"
    else:
        verdict = "jumped" if to_last < to_overall else "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    train()
