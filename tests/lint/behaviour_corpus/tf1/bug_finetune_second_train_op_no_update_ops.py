"""Two-phase TF1 training: phase 1 trains the whole network with the UPDATE_OPS dependency;
phase 2 ("fine-tune the top layers at a lower learning rate") builds a second optimizer with
var_list=top_vars and forgets the dependency. The training flag stays True in phase 2, so BN
normalizes with batch statistics but its moving statistics stop at their phase-1 values."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

PHASES = [("all", 1e-2, 3), ("top", 1e-3, 3)]


def model_fn(x, is_training):
    with tf.variable_scope("base"):
        h = tf.layers.dense(x, 8, use_bias=False, name="fc")
        h = tf.nn.relu(tf.layers.batch_normalization(h, training=is_training, name="bn"))
    with tf.variable_scope("top"):
        h = tf.layers.dense(h, 8, use_bias=False, name="fc")
        h = tf.nn.relu(tf.layers.batch_normalization(h, training=is_training, name="bn"))
        return tf.layers.dense(h, 1, name="out")


def main():
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    is_training = tf.placeholder(tf.bool, [], name="is_training")
    pred = model_fn(x, is_training)
    loss = tf.losses.mean_squared_error(y, pred)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_all = tf.train.AdamOptimizer(PHASES[0][1]).minimize(loss)
    top_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="top")
    train_top = tf.train.AdamOptimizer(PHASES[1][1]).minimize(loss, var_list=top_vars)
    train_ops = {"all": train_all, "top": train_top}
    top_mean = tf.get_default_graph().get_tensor_by_name("top/bn/moving_mean:0")
    rng = np.random.RandomState(0)
    history = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for phase, _, steps in PHASES:
            for step in range(steps):
                feed = {x: rng.randn(16, 4) + 2 + step, y: rng.randn(16, 1), is_training: True}
                sess.run(train_ops[phase], feed)
            history.append(sess.run(top_mean))
    moved_in_phase2 = not np.allclose(history[0], history[1])
    print("BN-GROUND-TRUTH:", "updated" if moved_in_phase2 else "stale")


if __name__ == "__main__":
    main()
