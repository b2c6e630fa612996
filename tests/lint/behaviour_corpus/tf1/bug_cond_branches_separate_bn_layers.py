"""TF1 graph-mode MLP whose norm helper picks the batch-norm behaviour with
tf.cond(is_training, ...): one branch for training, one for inference. The flag is a
placeholder_with_default(False) fed True by the training loop; update ops are control deps."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def norm(h, is_training):
    return tf.cond(is_training,
                   lambda: tf.layers.batch_normalization(h, training=True),
                   lambda: tf.layers.batch_normalization(h, training=False))


def mlp(x, is_training):
    h = tf.layers.dense(x, 8, name="fc1")
    h = tf.nn.relu(norm(h, is_training))
    return tf.layers.dense(h, 1, name="out")


def probe_tensors():
    graph = tf.get_default_graph()
    return graph.get_tensor_by_name("fc1/BiasAdd:0"), graph.get_tensor_by_name("cond/Merge:0")


if __name__ == "__main__":
    tf.set_random_seed(0)
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    pred = mlp(x, is_training)
    loss = tf.losses.mean_squared_error(y, pred)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    moving_means = [v for v in tf.global_variables() if v.name.endswith("moving_mean:0")]
    pre_norm, normed = probe_tensors()
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(5):
            xb = rng.randn(16, 4) + 2.0
            sess.run(train_op, {x: xb, y: xb.sum(1, keepdims=True), is_training: True})
        trained_any = any(not np.allclose(v, 0.0) for v in sess.run(moving_means))
        xe = rng.randn(16, 4) + 2.0
        h_val, n_val = sess.run([pre_norm, normed], {x: xe})
    # inference output equal to the untouched initial statistics (mean 0, var 1, gamma 1, beta 0)?
    if np.allclose(n_val, h_val / np.sqrt(1.0 + 1e-3), atol=1e-5):
        verdict = "frozen" if trained_any else "broken"
    else:
        verdict = "updated"
    print("BN-GROUND-TRUTH:", verdict)
