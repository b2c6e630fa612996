"""train.py / export step in one file: the Saver is built from
tf.get_collection(TRAINABLE_VARIABLES, scope="net") so that the optimizer slots and the global step
stay out of the release checkpoint. The BN moving mean/variance are not trainable either, so they
are dropped too: the inference graph restores the weights and keeps moving statistics 0/1."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_net(x, is_training):
    with tf.variable_scope("net"):
        h = tf.layers.conv2d(x, 8, 3, padding="same", use_bias=False, name="conv1")
        h = tf.layers.batch_normalization(h, momentum=0.9, training=is_training, name="bn1")
        h = tf.reduce_mean(tf.nn.relu(h), axis=[1, 2])
        return tf.layers.dense(h, 2, name="head")


def train_and_save(ckpt_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 6, 6, 3], name="images")
        y = tf.placeholder(tf.int64, [None], name="labels")
        is_training = tf.placeholder(tf.bool, [], name="is_training")
        logits = build_net(x, is_training)
        loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
        global_step = tf.train.get_or_create_global_step()
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            train_op = tf.train.AdamOptimizer(1e-2).minimize(loss, global_step=global_step)
        release_vars = tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="net")
        saver = tf.train.Saver(var_list=release_vars, max_to_keep=1)
        rng = np.random.RandomState(0)
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(10):
                feed = {x: rng.randn(16, 6, 6, 3) * 2 + 3, y: rng.randint(0, 2, 16), is_training: True}
                sess.run(train_op, feed)
            trained_mean = sess.run(graph.get_tensor_by_name("net/bn1/moving_mean:0"))
            saver.save(sess, ckpt_path)
    return trained_mean


def load_for_inference(ckpt_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 6, 6, 3], name="images")
        build_net(x, is_training=False)
        saver = tf.train.Saver(var_list=tf.get_collection(tf.GraphKeys.TRAINABLE_VARIABLES, scope="net"))
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            saver.restore(sess, ckpt_path)
            return sess.run(graph.get_tensor_by_name("net/bn1/moving_mean:0"))


def main():
    with tempfile.TemporaryDirectory() as workdir:
        ckpt = os.path.join(workdir, "release.ckpt")
        trained_mean = train_and_save(ckpt)
        restored_mean = load_for_inference(ckpt)
    if np.allclose(trained_mean, 0.0):
        behaviour = "frozen"
    elif np.allclose(restored_mean, trained_mean):
        behaviour = "restored"
    elif np.allclose(restored_mean, 0.0):
        behaviour = "lost"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
