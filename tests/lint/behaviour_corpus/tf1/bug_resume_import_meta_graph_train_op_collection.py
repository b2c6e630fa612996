"""TF1 train script plus a resume script, the classic checkpoint/meta-graph layout. train_from_scratch()
groups the minimize op with the BN update ops for its own loop, but registers the bare minimize op in
the 'train_step' collection. resume() rebuilds nothing: it imports the meta graph, restores the latest
checkpoint and fetches tf.get_collection('train_step')[0], so after the resume the BN update ops never run
and the moving statistics stay where the first run left them while training continues on new data."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

HPARAMS = {"lr": 0.05, "batch_size": 32, "first_run_steps": 20, "resume_steps": 40}


def build_graph(hp):
    images = v1.placeholder(tf.float32, [None, 6], name="images")
    labels = v1.placeholder(tf.int64, [None], name="labels")
    is_training = v1.placeholder_with_default(False, [], name="is_training")
    with v1.variable_scope("net"):
        h = v1.layers.dense(images, 12, use_bias=False, name="fc1")
        h = v1.layers.batch_normalization(h, training=is_training, name="bn1")
        logits = v1.layers.dense(tf.nn.relu(h), 2, name="out")
    loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
    global_step = v1.train.get_or_create_global_step()
    minimize = v1.train.MomentumOptimizer(hp["lr"], 0.9).minimize(loss, global_step=global_step)
    train_op = tf.group(minimize, *v1.get_collection(v1.GraphKeys.UPDATE_OPS), name="train_step")
    v1.add_to_collection("train_step", minimize)
    return train_op


def moving_mean(graph):
    return [v for v in graph.get_collection(v1.GraphKeys.GLOBAL_VARIABLES)
            if v.name == "net/bn1/moving_mean:0"][0]


def batches(x, y, steps, batch_size, seed):
    rng = np.random.RandomState(seed)
    for _ in range(steps):
        idx = rng.choice(len(x), batch_size)
        yield x[idx], y[idx]


def train_from_scratch(hp, ckpt_dir, data):
    graph = tf.Graph()
    with graph.as_default():
        train_op = build_graph(hp)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for xb, yb in batches(*data, hp["first_run_steps"], hp["batch_size"], seed=1):
                sess.run(train_op, {"images:0": xb, "labels:0": yb, "is_training:0": True})
            saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"), global_step=v1.train.get_global_step())
            return sess.run(moving_mean(graph))


def resume(hp, ckpt_dir, data):
    latest = tf.train.latest_checkpoint(ckpt_dir)
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(latest + ".meta")
        train_op = v1.get_collection("train_step")[0]
        with v1.Session(graph=graph) as sess:
            saver.restore(sess, latest)
            restored = sess.run(moving_mean(graph))
            for xb, yb in batches(*data, hp["resume_steps"], hp["batch_size"], seed=2):
                sess.run(train_op, {"images:0": xb, "labels:0": yb, "is_training:0": True})
            final = sess.run(moving_mean(graph))
            return restored, final


def main():
    np.random.seed(0)
    v1.set_random_seed(0)
    rng = np.random.RandomState(0)
    x1 = rng.randn(256, 6).astype(np.float32)
    y1 = (x1[:, 0] > 0).astype(np.int64)
    x2 = (rng.randn(256, 6) * 2.0 + 3.0).astype(np.float32)
    y2 = (x2[:, 0] > 3.0).astype(np.int64)
    ckpt_dir = tempfile.mkdtemp()
    first = train_from_scratch(HPARAMS, ckpt_dir, (x1, y1))
    restored, final = resume(HPARAMS, ckpt_dir, (x2, y2))
    if np.abs(first).max() < 1e-4:
        verdict = "frozen"
    elif not np.allclose(first, restored, atol=1e-6):
        verdict = "lost"
    elif np.abs(final - restored).max() < 1e-4:
        verdict = "stale"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
