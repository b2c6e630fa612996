"""TF1 classifier whose batch_normalization gets training=False in the graph that is trained."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def model_fn(images):
    net = tf.layers.dense(images, 16)
    net = tf.layers.batch_normalization(net, training=False, name="bn1")
    net = tf.nn.relu(net)
    return tf.layers.dense(net, 3)


def main():
    x = tf.placeholder(tf.float32, [None, 8])
    y = tf.placeholder(tf.int64, [None])
    logits = model_fn(x)
    loss = tf.losses.sparse_softmax_cross_entropy(y, logits)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    moving_mean = [v for v in tf.global_variables() if "moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        start = sess.run(moving_mean)
        for _ in range(4):
            sess.run(train_op, {x: rng.randn(16, 8) + 2, y: rng.randint(0, 3, 16)})
        end = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(start, end) else "updated")


if __name__ == "__main__":
    main()
