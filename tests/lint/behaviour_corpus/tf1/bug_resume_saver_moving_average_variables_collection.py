"""TF1 training script ported from slim-era code: its resume Saver keeps the trainable variables plus
tf.moving_average_variables() and the global step; the run trains, checkpoints, and a second
session restores the checkpoint to continue."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1


def build(x, is_training):
    with v1.variable_scope("tower"):
        h = v1.layers.dense(x, 8, name="fc1")
        h = v1.layers.batch_normalization(h, training=is_training, momentum=0.8, name="bn1")
        return v1.layers.dense(tf.nn.relu(h), 1, name="fc2")


def resume_saver(global_step):
    to_keep = v1.trainable_variables() + v1.moving_average_variables() + [global_step]
    return v1.train.Saver(var_list=to_keep, max_to_keep=2)


if __name__ == "__main__":
    v1.set_random_seed(0)
    rng = np.random.RandomState(0)
    x = v1.placeholder(tf.float32, [None, 4])
    y = v1.placeholder(tf.float32, [None, 1])
    is_training = v1.placeholder_with_default(False, [])
    pred = build(x, is_training)
    loss = v1.losses.mean_squared_error(y, pred)
    global_step = v1.train.get_or_create_global_step()
    with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
        train_op = v1.train.MomentumOptimizer(1e-2, 0.9).minimize(loss, global_step=global_step)
    saver = resume_saver(global_step)
    mm = [v for v in v1.global_variables() if v.name == "tower/bn1/moving_mean:0"][0]
    ckpt_dir = tempfile.mkdtemp()
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(8):
            sess.run(train_op, {x: rng.randn(16, 4) + 3.0, y: rng.randn(16, 1), is_training: True})
        trained = sess.run(mm)
        path = saver.save(sess, os.path.join(ckpt_dir, "model.ckpt"), global_step=global_step)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        saver.restore(sess, path)
        resumed = sess.run(mm)
    if np.allclose(trained, 0.0):
        verdict = "frozen"
    else:
        verdict = "restored" if np.allclose(trained, resumed) else "lost"
    print("BN-GROUND-TRUTH:", verdict)
