"""TF1 training script (MobileNet-style) that saves only what inference needs: trainable
variables PLUS the BN moving statistics picked out of tf.global_variables(). Restoring into an
inference graph gives back the trained moving mean / variance."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"steps": 5, "lr": 1e-2}


def build_graph(is_training):
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    h = tf.layers.dense(x, 8, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    pred = tf.layers.dense(tf.nn.relu(h), 1, name="out")
    return x, y, pred


def inference_var_list():
    var_list = tf.trainable_variables()
    g_list = tf.global_variables()
    bn_moving_vars = [g for g in g_list if "moving_mean" in g.name]
    bn_moving_vars += [g for g in g_list if "moving_variance" in g.name]
    return var_list + bn_moving_vars


def train(ckpt_path):
    tf.reset_default_graph()
    x, y, pred = build_graph(is_training=True)
    loss = tf.losses.mean_squared_error(y, pred)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(FLAGS["lr"]).minimize(loss)
    saver = tf.train.Saver(var_list=inference_var_list(), max_to_keep=2)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(FLAGS["steps"]):
            sess.run(train_op, {x: rng.randn(16, 4) + 3, y: rng.randn(16, 1)})
        saver.save(sess, ckpt_path)


def restore_for_inference(ckpt_path):
    tf.reset_default_graph()
    build_graph(is_training=False)
    saver = tf.train.Saver(var_list=inference_var_list())
    with tf.Session() as sess:
        saver.restore(sess, ckpt_path)
        return sess.run(tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "model.ckpt")
        train(ckpt)
        restored_mean = restore_for_inference(ckpt)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(restored_mean, 0) else "updated")


if __name__ == "__main__":
    main()
