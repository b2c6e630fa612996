"""Two-stage transfer script (TF1 graph mode). Stage 1 pretrains a small conv backbone and saves a
checkpoint with every global variable. Stage 2 builds a new graph, keeps the backbone frozen
(training=False, head-only var_list) and warm-starts it with tf.train.warm_start(ckpt,
vars_to_warm_start=WARM_START_VARS) before initialising the session: a list of scope regexes
selects from GLOBAL_VARIABLES, so the moving statistics are warm-started with the weights."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

HPARAMS = {"pretrain_steps": 30, "finetune_steps": 5, "batch": 16, "lr": 0.05, "bn_momentum": 0.8}
WARM_START_VARS = ["backbone/.*"]


def backbone(images, is_training):
    with tf.variable_scope("backbone"):
        h = tf.layers.conv2d(images, 4, 3, padding="same", use_bias=False, name="conv1")
        h = tf.layers.batch_normalization(h, training=is_training, momentum=HPARAMS["bn_momentum"], name="bn1")
        h = tf.nn.relu(h)
        return tf.reduce_mean(h, axis=[1, 2])


def make_batch(rng, n, shift):
    x = rng.randn(n, 6, 6, 1).astype(np.float32) * 1.5 + shift
    y = (x.mean(axis=(1, 2, 3)) > shift).astype(np.int64)
    return x, y


def pretrain(ckpt_dir, rng):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        images = tf.placeholder(tf.float32, [None, 6, 6, 1], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        feats = backbone(images, is_training=True)
        logits = tf.layers.dense(feats, 2, name="pretrain_head")
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.GradientDescentOptimizer(HPARAMS["lr"]).minimize(loss)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(HPARAMS["pretrain_steps"]):
                x, y = make_batch(rng, HPARAMS["batch"], 3.0)
                sess.run(train_op, {images: x, labels: y})
            trained_mean = sess.run(graph.get_tensor_by_name("backbone/bn1/moving_mean:0"))
            saver.save(sess, os.path.join(ckpt_dir, "pretrain.ckpt"))
    return trained_mean


def finetune(ckpt_dir, rng):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(1)
        images = tf.placeholder(tf.float32, [None, 6, 6, 1], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        feats = backbone(images, is_training=False)
        logits = tf.layers.dense(feats, 2, name="task_head")
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        head_vars = tf.trainable_variables("task_head")
        train_op = tf.train.GradientDescentOptimizer(HPARAMS["lr"]).minimize(loss, var_list=head_vars)
        tf.train.warm_start(ckpt_dir, vars_to_warm_start=WARM_START_VARS)
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(HPARAMS["finetune_steps"]):
                x, y = make_batch(rng, HPARAMS["batch"], 3.0)
                sess.run(train_op, {images: x, labels: y})
            return sess.run(graph.get_tensor_by_name("backbone/bn1/moving_mean:0"))


def main():
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as ckpt_dir:
        pretrained_mean = pretrain(ckpt_dir, rng)
        used_mean = finetune(ckpt_dir, rng)
    print("pretrained moving_mean", pretrained_mean, "fine-tune graph moving_mean", used_mean)
    if np.allclose(used_mean, 0.0) and not np.allclose(pretrained_mean, 0.0):
        verdict = "lost"
    elif np.allclose(used_mean, pretrained_mean, atol=1e-6):
        verdict = "restored"
    else:
        verdict = "diverged"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
