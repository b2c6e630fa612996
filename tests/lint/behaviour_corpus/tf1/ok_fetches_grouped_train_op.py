"""TF1 training script that groups the BatchNorm update ops with the optimizer step,
`train_op = tf.group(minimize_op, *update_ops)`, and the loop fetches that grouped op together with the loss and the global step,
`sess.run([train_op, loss, global_step])`: the moving statistics are updated at every step."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def inference(features, is_training):
    net = tf.layers.conv2d(features, 8, 3, padding="same", name="conv1")
    net = tf.layers.batch_normalization(net, training=is_training, name="bn1")
    net = tf.reduce_mean(tf.nn.relu(net), axis=[1, 2])
    return tf.layers.dense(net, 4, name="logits")


def main(steps=6):
    images = tf.placeholder(tf.float32, [None, 6, 6, 3], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    is_training = tf.placeholder(tf.bool, [], name="is_training")
    logits = inference(images, is_training)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    global_step = tf.train.get_or_create_global_step()
    minimize_op = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss, global_step=global_step)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    train_op = tf.group(minimize_op, *update_ops)
    moving_mean = [v for v in tf.global_variables() if "bn1/moving_mean" in v.name][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            xs = rng.randn(16, 6, 6, 3) + 2
            feed = {images: xs, labels: rng.randint(0, 4, 16), is_training: True}
            _, loss_value, step = sess.run([train_op, loss, global_step], feed)
        stats = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(stats, 0) else "updated")


if __name__ == "__main__":
    main()
