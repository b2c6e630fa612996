"""training=True hard-coded; the same graph is used for validation, so BN uses batch stats at eval."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build(x):
    h = tf.layers.conv2d(x, 4, 3, padding="same")
    h = tf.layers.batch_normalization(h, training=True)
    h = tf.reduce_mean(tf.nn.relu(h), axis=[1, 2])
    return tf.layers.dense(h, 2)


if __name__ == "__main__":
    images = tf.placeholder(tf.float32, [None, 6, 6, 1])
    labels = tf.placeholder(tf.int32, [None])
    logits = build(images)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1, output_type=tf.int32), labels), tf.float32))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.GradientDescentOptimizer(0.1).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {images: rng.randn(8, 6, 6, 1), labels: rng.randint(0, 2, 8)})
        val_x = rng.randn(8, 6, 6, 1) * 4
        # batch-statistics evaluation: predictions for a sample depend on the rest of the batch
        full = sess.run(logits, {images: val_x})
        single = sess.run(logits, {images: val_x[:2]})
        sess.run(accuracy, {images: val_x, labels: rng.randint(0, 2, 8)})
    print("BN-GROUND-TRUTH:", "eval-uses-batch-stats" if not np.allclose(full[:2], single, atol=1e-4) else "ok")
