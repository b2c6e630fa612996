"""Transfer learning in TF1 graph mode. Stage 1 pretrains a 'backbone' (BN with update ops wired)
and saves every variable. Stage 2 rebuilds the backbone as a frozen feature extractor
(training=False on purpose, only the new head is optimized, no update ops needed) and warm-starts
it with tf.train.init_from_checkpoint(ckpt, {"backbone/": "backbone/"}): the scope mapping restores
every variable under the scope, moving_mean/moving_variance included."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def backbone(x, training):
    with tf.variable_scope("backbone"):
        h = tf.layers.dense(x, 12, name="fc")
        h = tf.layers.batch_normalization(h, training=training, name="bn")
        return tf.nn.relu(h)


def sample(rng, n):
    x = rng.randn(n, 6).astype(np.float32) * 2.0 + 3.0
    return x, (x[:, 0] > 3.0).astype(np.int64)


def pretrain(ckpt_prefix, rng, steps=20):
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        x = tf.placeholder(tf.float32, [None, 6])
        y = tf.placeholder(tf.int64, [None])
        logits = tf.layers.dense(backbone(x, training=True), 2, name="pretext_head")
        loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.AdamOptimizer(0.02).minimize(loss)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                xb, yb = sample(rng, 32)
                sess.run(train_op, {x: xb, y: yb})
            saver.save(sess, ckpt_prefix)
            return sess.run(tf.global_variables("backbone/bn/moving_mean")[0])


def finetune(ckpt_prefix, rng, steps=10):
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 6])
        y = tf.placeholder(tf.int64, [None])
        features = backbone(x, training=False)
        logits = tf.layers.dense(features, 2, name="task_head")
        loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
        head_vars = tf.trainable_variables("task_head")
        train_op = tf.train.AdamOptimizer(0.02).minimize(loss, var_list=head_vars)
        assignment_map = {"backbone/": "backbone/"}
        tf.train.init_from_checkpoint(ckpt_prefix, assignment_map)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                xb, yb = sample(rng, 32)
                sess.run(train_op, {x: xb, y: yb})
            xb, yb = sample(rng, 64)
            print("fine-tuned loss", sess.run(loss, {x: xb, y: yb}))
            return sess.run(tf.global_variables("backbone/bn/moving_mean")[0])


def main():
    rng = np.random.RandomState(0)
    with tempfile.TemporaryDirectory() as tmp:
        pretrained = pretrain(os.path.join(tmp, "backbone.ckpt"), rng)
        loaded = finetune(os.path.join(tmp, "backbone.ckpt"), rng)
    if np.allclose(loaded, pretrained) and not np.allclose(pretrained, 0.0):
        print("BN-GROUND-TRUTH: restored")
    else:
        print("BN-GROUND-TRUTH:", "lost" if np.allclose(loaded, 0.0) else "mismatch")


if __name__ == "__main__":
    main()
