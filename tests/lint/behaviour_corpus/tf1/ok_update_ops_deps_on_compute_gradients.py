"""Gradient clipping split into compute_gradients / clip_by_global_norm / apply_gradients. The
control_dependencies on UPDATE_OPS wraps compute_gradients: every gradient op depends on the update
ops, so they run with each training step although apply_gradients is outside the block."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

CONFIG = {"clip_norm": 1.0, "lr": 0.01, "steps": 4}


def network(x, is_training):
    h = tf.layers.conv2d(x, 4, 3, padding="same", name="conv")
    h = tf.layers.batch_normalization(h, training=is_training, momentum=0.9, name="bn")
    return tf.layers.dense(tf.reduce_mean(tf.nn.relu(h), axis=[1, 2]), 2, name="fc")


def clipped_train_op(loss, cfg):
    optimizer = tf.train.MomentumOptimizer(cfg["lr"], 0.9)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        grads_and_vars = optimizer.compute_gradients(loss)
    grads, variables = zip(*grads_and_vars)
    clipped, _ = tf.clip_by_global_norm(grads, cfg["clip_norm"])
    global_step = tf.train.get_or_create_global_step()
    return optimizer.apply_gradients(zip(clipped, variables), global_step=global_step)


def main():
    images = tf.placeholder(tf.float32, [None, 6, 6, 1])
    labels = tf.placeholder(tf.int64, [None])
    is_training = tf.placeholder(tf.bool, shape=())
    logits = network(images, is_training)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = clipped_train_op(loss, CONFIG)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    moving_mean = [v for v in tf.global_variables() if v.name == "bn/moving_mean:0"][0]
    rng = np.random.RandomState(0)
    means = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(CONFIG["steps"]):
            sess.run(train_op, {images: rng.randn(8, 6, 6, 1) + 2, labels: rng.randint(0, 2, 8),
                                is_training: True})
            means.append(sess.run(moving_mean))
        print("acc", sess.run(accuracy, {images: rng.randn(8, 6, 6, 1), labels: rng.randint(0, 2, 8),
                                         is_training: False}))
    updated = all(not np.allclose(a, b) for a, b in zip([np.zeros_like(means[0])] + means, means))
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")


if __name__ == "__main__":
    main()
