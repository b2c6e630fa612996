"""TF1 graph-mode script: one graph serves training and validation, switched by a string placeholder
`mode` fed "train" or "eval". The network builds training=tf.equal(mode, "train"), a boolean tensor
evaluated per run: batch normalization trains (update ops wired into train_op) when "train" is fed and
uses the moving averages when "eval" is fed."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()

BATCH_SIZE = 32
STEPS = 30
LEARNING_RATE = 0.05


def inference(images, mode):
    net = tf.compat.v1.layers.dense(images, 16, name="fc1")
    net = tf.compat.v1.layers.batch_normalization(net, training=tf.equal(mode, "train"), name="bn1")
    net = tf.nn.relu(net)
    return tf.compat.v1.layers.dense(net, 2, name="logits")


def main():
    tf.compat.v1.set_random_seed(0)
    rng = np.random.RandomState(0)
    images = tf.compat.v1.placeholder(tf.float32, [None, 6], name="images")
    labels = tf.compat.v1.placeholder(tf.int64, [None], name="labels")
    mode = tf.compat.v1.placeholder(tf.string, [], name="mode")

    logits = inference(images, mode)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.compat.v1.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss)

    moving_mean = [v for v in tf.compat.v1.global_variables() if v.name == "bn1/moving_mean:0"][0]
    with tf.compat.v1.Session() as sess:
        sess.run(tf.compat.v1.global_variables_initializer())
        start = sess.run(moving_mean)
        for step in range(STEPS):
            x = rng.randn(BATCH_SIZE, 6) + 3.0
            y = (x[:, 0] > 3.0).astype(np.int64)
            _, train_loss = sess.run([train_op, loss], {images: x, labels: y, mode: "train"})
            if step % 10 == 9:
                xv = rng.randn(BATCH_SIZE, 6) + 3.0
                yv = (xv[:, 0] > 3.0).astype(np.int64)
                val_acc = sess.run(accuracy, {images: xv, labels: yv, mode: "eval"})
                print("step", step, "loss", train_loss, "val_acc", val_acc)
        end = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "updated" if not np.allclose(start, end) else "frozen")


if __name__ == "__main__":
    main()
