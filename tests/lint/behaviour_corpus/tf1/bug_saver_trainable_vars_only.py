"""TF1 training script that keeps checkpoints small with Saver(var_list=tf.trainable_variables()).
The BN update ops are wired correctly and the moving statistics train, but moving_mean /
moving_variance are non-trainable variables: they are never written to the checkpoint, and the
inference process that restores it runs BN with the initial 0 / 1 statistics."""
import argparse
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_graph(is_training):
    x = tf.placeholder(tf.float32, [None, 4], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    h = tf.layers.dense(x, 8, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    pred = tf.layers.dense(tf.nn.relu(h), 1, name="out")
    return x, y, pred


def train(args, ckpt_path):
    tf.reset_default_graph()
    x, y, pred = build_graph(is_training=True)
    loss = tf.losses.mean_squared_error(y, pred)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(args.lr).minimize(loss)
    saver = tf.train.Saver(var_list=tf.trainable_variables(), max_to_keep=2)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(args.steps):
            sess.run(train_op, {x: rng.randn(16, 4) + 3, y: rng.randn(16, 1)})
        saver.save(sess, ckpt_path)


def restore_for_inference(ckpt_path):
    tf.reset_default_graph()
    build_graph(is_training=False)
    saver = tf.train.Saver(var_list=tf.trainable_variables())
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        saver.restore(sess, ckpt_path)
        return sess.run(tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "model.ckpt")
        train(args, ckpt)
        restored_mean = restore_for_inference(ckpt)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(restored_mean, 0) else "updated")


if __name__ == "__main__":
    main()
