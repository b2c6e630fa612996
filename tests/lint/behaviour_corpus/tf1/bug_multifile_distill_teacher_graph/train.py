"""python train.py -- stage 1 trains the teacher on labelled data, stage 2 distils it into the student
on an unlabelled transfer set."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

from distill import run_distillation  # noqa: E402
from models import build_model  # noqa: E402

tf.disable_v2_behavior()

CFG = {"seed": 0, "num_features": 5, "batch_size": 32, "teacher_steps": 20, "distill_steps": 12,
       "lr": 1e-2, "temperature": 4.0}


def labelled_batches(rng, n):
    out = []
    for _ in range(n):
        xs = (rng.randn(CFG["batch_size"], CFG["num_features"]) + 1.0).astype(np.float32)
        out.append((xs, (xs[:, 0] > 1.0).astype(np.int64) + (xs[:, 1] > 1.5).astype(np.int64)))
    return out


def transfer_batches(rng, n):
    """Unlabelled transfer set from another sensor: shifted and rescaled."""
    return [(rng.randn(CFG["batch_size"], CFG["num_features"]) * 3.0 - 4.0).astype(np.float32) for _ in range(n)]


def train_teacher(rng, ckpt_dir):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(CFG["seed"])
        images = tf.placeholder(tf.float32, [None, CFG["num_features"]], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        is_training = tf.placeholder_with_default(False, [], name="is_training")
        logits = build_model("teacher", images, is_training)
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.AdamOptimizer(CFG["lr"]).minimize(loss)
        saver = tf.train.Saver(tf.global_variables("teacher"))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for xs, ys in labelled_batches(rng, CFG["teacher_steps"]):
                sess.run(train_op, {images: xs, labels: ys, is_training: True})
            path = saver.save(sess, os.path.join(ckpt_dir, "teacher.ckpt"))
            stats = {v.op.name: sess.run(v) for v in tf.global_variables() if "moving_mean" in v.op.name}
    return path, stats


def main():
    rng = np.random.RandomState(CFG["seed"])
    with tempfile.TemporaryDirectory() as ckpt_dir:
        ckpt, teacher_stats = train_teacher(rng, ckpt_dir)
        after = run_distillation(CFG, ckpt, transfer_batches(rng, CFG["distill_steps"]))
    teacher_moved = max(np.abs(after[name] - value).max() for name, value in teacher_stats.items())
    student_mean = after["student/bn0/moving_mean"]
    print(f"teacher moving_mean drift {teacher_moved:.4f}; student moving_mean[:3] {np.round(student_mean[:3], 3)}")
    if teacher_moved > 1e-6:
        verdict = "contaminated"
    else:
        verdict = "frozen" if np.allclose(student_mean, 0.0) else "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
