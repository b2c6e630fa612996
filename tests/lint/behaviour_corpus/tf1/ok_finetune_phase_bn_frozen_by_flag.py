"""Two-phase TF1 training in the object-detection-API style: phase 1 trains everything with the
UPDATE_OPS dependency; phase 2 fine-tunes the head with BN frozen on purpose (freeze_batchnorm):
the training flag is fed False, so BN uses the phase-1 moving statistics and its update ops are
not needed by the second train op."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

PHASES = [
    {"name": "pretrain", "lr": 1e-2, "steps": 3, "freeze_batchnorm": False},
    {"name": "finetune", "lr": 1e-3, "steps": 3, "freeze_batchnorm": True},
]


def model_fn(x, is_training):
    with tf.variable_scope("base"):
        h = tf.layers.dense(x, 8, use_bias=False, name="fc")
        h = tf.nn.relu(tf.layers.batch_normalization(h, training=is_training, name="bn"))
    with tf.variable_scope("head"):
        return tf.layers.dense(h, 1, name="out")


def main():
    x = tf.placeholder(tf.float32, [None, 4])
    y = tf.placeholder(tf.float32, [None, 1])
    is_training = tf.placeholder(tf.bool, [], name="is_training")
    pred = model_fn(x, is_training)
    loss = tf.losses.mean_squared_error(y, pred)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        pretrain_op = tf.train.AdamOptimizer(PHASES[0]["lr"]).minimize(loss)
    head_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="head")
    finetune_op = tf.train.AdamOptimizer(PHASES[1]["lr"]).minimize(loss, var_list=head_vars)
    ops = {"pretrain": pretrain_op, "finetune": finetune_op}
    moving_mean = tf.get_default_graph().get_tensor_by_name("base/bn/moving_mean:0")
    rng = np.random.RandomState(0)
    history = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for phase in PHASES:
            for step in range(phase["steps"]):
                feed = {x: rng.randn(16, 4) + 2, y: rng.randn(16, 1),
                        is_training: not phase["freeze_batchnorm"]}
                sess.run(ops[phase["name"]], feed)
            history.append(sess.run(moving_mean))
    ok = not np.allclose(history[0], 0) and np.allclose(history[0], history[1])
    print("BN-GROUND-TRUTH:", "frozen-by-design" if ok else "broken")


if __name__ == "__main__":
    main()
