"""Two-stage script: pretrain, then fine-tune a new head on the frozen backbone (training=False by design)."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


def backbone(x, is_training):
    with v1.variable_scope("backbone"):
        h = v1.layers.dense(x, 12, use_bias=False, name="fc")
        h = v1.layers.batch_normalization(h, training=is_training, name="bn")
        return tf.nn.relu(h)


def head(h, n_out, name):
    return v1.layers.dense(h, n_out, name=name)


def data(rng, n=32):
    x = rng.normal(4.0, 2.0, (n, 5)).astype(np.float32)
    return x, (x.sum(1) > 20).astype(np.int64)


def pretrain(ckpt_path, rng):
    with tf.Graph().as_default():
        v1.set_random_seed(0)
        x = v1.placeholder(tf.float32, [None, 5])
        y = v1.placeholder(tf.int64, [None])
        logits = head(backbone(x, is_training=True), 2, "pretrain_head")
        loss = v1.losses.sparse_softmax_cross_entropy(y, logits)
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            train_op = v1.train.AdamOptimizer(1e-2).minimize(loss)
        saver = v1.train.Saver()
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            for _ in range(20):
                bx, by = data(rng)
                sess.run(train_op, {x: bx, y: by})
            saver.save(sess, ckpt_path)
            return sess.run([v for v in v1.global_variables() if v.op.name == "backbone/bn/moving_mean"][0])


def warm_start(sess, ckpt_path):
    restore_vars = v1.global_variables("backbone")
    v1.train.Saver(var_list=restore_vars).restore(sess, ckpt_path)
    frozen = {v.op.name for v in v1.trainable_variables("backbone")}
    remaining = [v for v in v1.global_variables() if v.op.name not in frozen]
    sess.run(v1.variables_initializer(remaining))


def finetune(ckpt_path, rng):
    with tf.Graph().as_default():
        v1.set_random_seed(1)
        x = v1.placeholder(tf.float32, [None, 5])
        y = v1.placeholder(tf.int64, [None])
        logits = head(backbone(x, is_training=False), 2, "new_head")
        loss = v1.losses.sparse_softmax_cross_entropy(y, logits)
        head_vars = v1.trainable_variables("new_head")
        train_op = v1.train.AdamOptimizer(1e-2).minimize(loss, var_list=head_vars)
        with v1.Session() as sess:
            warm_start(sess, ckpt_path)
            for _ in range(10):
                bx, by = data(rng)
                sess.run(train_op, {x: bx, y: by})
            return sess.run([v for v in v1.global_variables() if v.op.name == "backbone/bn/moving_mean"][0])


if __name__ == "__main__":
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        pretrained = pretrain(os.path.join(tmp, "pretrain.ckpt"), rng)
        used = finetune(os.path.join(tmp, "pretrain.ckpt"), rng)
    if np.allclose(used, pretrained) and np.abs(pretrained).max() > 1e-3:
        verdict = "restored"
    else:
        verdict = "lost" if np.allclose(used, 0) else "changed"
    print("BN-GROUND-TRUTH:", verdict)
