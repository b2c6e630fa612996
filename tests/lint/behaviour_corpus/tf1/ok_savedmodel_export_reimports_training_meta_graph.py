"""TF1 train -> export -> serve pipeline. The training graph feeds BN an is_training
placeholder_with_default(False) and the training loop feeds True. export() does not rebuild an
inference graph: it re-imports the training meta graph, restores the checkpoint and writes a SavedModel
whose 'logits' signature output is the training graph's tensor; serving never feeds is_training, so the
default False applies and requests are normalised with the trained moving averages."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

FLAGS = {"lr": 0.05, "steps": 40, "batch_size": 32, "features": 6}


def network(images, training):
    h = v1.layers.dense(images, 12, use_bias=False, name="fc1")
    h = v1.layers.batch_normalization(h, training=training, name="bn1")
    return v1.layers.dense(tf.nn.relu(h), 2, name="logits")


def train(ckpt_prefix, x, y):
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(0)
        images = v1.placeholder(tf.float32, [None, FLAGS["features"]], name="images")
        labels = v1.placeholder(tf.int64, [None], name="labels")
        is_training = v1.placeholder_with_default(False, [], name="is_training")
        logits = network(images, training=is_training)
        v1.add_to_collection("serving_outputs", logits)
        loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
        with v1.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = v1.train.AdamOptimizer(FLAGS["lr"]).minimize(loss)
        moving_mean = [v for v in v1.global_variables() if v.name == "bn1/moving_mean:0"][0]
        saver = v1.train.Saver()
        rng = np.random.RandomState(1)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(FLAGS["steps"]):
                idx = rng.choice(len(x), FLAGS["batch_size"])
                sess.run(train_op, {images: x[idx], labels: y[idx], is_training: True})
            saver.save(sess, ckpt_prefix)
            return sess.run(moving_mean)


def export(ckpt_prefix, export_dir):
    graph = tf.Graph()
    with graph.as_default():
        saver = v1.train.import_meta_graph(ckpt_prefix + ".meta")
        images = graph.get_tensor_by_name("images:0")
        logits = v1.get_collection("serving_outputs")[0]
        with v1.Session(graph=graph) as sess:
            saver.restore(sess, ckpt_prefix)
            v1.saved_model.simple_save(sess, export_dir, inputs={"images": images}, outputs={"logits": logits})


def serve(export_dir, requests):
    graph = tf.Graph()
    with v1.Session(graph=graph) as sess:
        meta = v1.saved_model.loader.load(sess, [v1.saved_model.tag_constants.SERVING], export_dir)
        sig = meta.signature_def["serving_default"]
        return sess.run(sig.outputs["logits"].name, {sig.inputs["images"].name: requests})


def main():
    rng = np.random.RandomState(0)
    x = (rng.randn(256, FLAGS["features"]) + 1.5).astype(np.float32)
    y = (x[:, 0] > 1.5).astype(np.int64)
    workdir = tempfile.mkdtemp()
    ckpt = os.path.join(workdir, "model.ckpt")
    trained_mean = train(ckpt, x, y)
    export_dir = os.path.join(workdir, "export", "1")
    export(ckpt, export_dir)
    requests = (rng.randn(16, FLAGS["features"]) + 1.5).astype(np.float32)
    full = serve(export_dir, requests)
    alone = serve(export_dir, requests[:2])
    if not np.allclose(full[:2], alone, atol=1e-5):
        print("BN-GROUND-TRUTH:", "eval-uses-batch-stats")
    else:
        print("BN-GROUND-TRUTH:", "updated" if np.abs(trained_mean).max() > 1e-3 else "frozen")


if __name__ == "__main__":
    main()
