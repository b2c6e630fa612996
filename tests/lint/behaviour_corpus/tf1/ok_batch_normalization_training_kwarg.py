"""TF1 script with one graph per mode: build_model(inputs, is_training) is called with True for the
training graph (update ops wired as control deps, checkpoint saved) and with False for a separate
evaluation graph that restores the checkpoint."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"hidden": 8, "steps": 6, "lr": 1e-2, "batch_size": 16}


def dense_bn_relu(x, units, is_training, name):
    with tf.variable_scope(name):
        h = tf.layers.dense(x, units, use_bias=False, name="dense")
        h = tf.layers.batch_normalization(h, training=is_training, name="bn")
        return tf.nn.relu(h)


def build_model(inputs, is_training):
    h = dense_bn_relu(inputs, FLAGS["hidden"], is_training, "block1")
    return tf.layers.dense(h, 1, name="logits")


def train(ckpt_path, data):
    graph = tf.Graph()
    with graph.as_default():
        tf.set_random_seed(0)
        x = tf.placeholder(tf.float32, [None, 5])
        y = tf.placeholder(tf.float32, [None, 1])
        loss = tf.losses.mean_squared_error(y, build_model(x, is_training=True))
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        with tf.control_dependencies(update_ops):
            train_op = tf.train.AdamOptimizer(FLAGS["lr"]).minimize(loss)
        moving_mean = graph.get_tensor_by_name("block1/bn/moving_mean:0")
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for step in range(FLAGS["steps"]):
                xb, yb = data[step % len(data)]
                sess.run(train_op, {x: xb, y: yb})
            trained_mean = sess.run(moving_mean)
            saver.save(sess, ckpt_path)
    return trained_mean


def evaluate(ckpt_path, xb, yb):
    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [None, 5])
        y = tf.placeholder(tf.float32, [None, 1])
        loss = tf.losses.mean_squared_error(y, build_model(x, is_training=False))
        with tf.Session(graph=graph) as sess:
            tf.train.Saver().restore(sess, ckpt_path)
            return sess.run(loss, {x: xb, y: yb})


if __name__ == "__main__":
    rng = np.random.RandomState(0)
    batches = []
    for _ in range(3):
        xb = rng.randn(FLAGS["batch_size"], 5) + 3.0
        batches.append((xb, xb.mean(1, keepdims=True)))
    with tempfile.TemporaryDirectory() as tmp:
        trained_mean = train(os.path.join(tmp, "model.ckpt"), batches)
        print("eval loss", evaluate(os.path.join(tmp, "model.ckpt"), *batches[0]))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(trained_mean, 0.0) else "updated")
