"""Multi-tower data parallelism in the style of the TF1 cifar10_multi_gpu example: each tower is built
under tf.name_scope('tower_%d' % i) with shared variables; the batch-norm update ops are taken from
the first tower only (get_collection(UPDATE_OPS, scope='tower_0')) and the averaged gradients are
applied under control_dependencies on them."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

NUM_TOWERS = 2
TOWER_NAME = "tower"


def inference(images, training):
    net = tf.layers.conv2d(images, 6, 3, padding="same", use_bias=False, name="conv1")
    net = tf.layers.batch_normalization(net, training=training, name="bn1")
    net = tf.reduce_mean(tf.nn.relu(net), axis=[1, 2])
    return tf.layers.dense(net, 2, name="logits")


def tower_loss(images, labels):
    logits = inference(images, training=True)
    return tf.losses.sparse_softmax_cross_entropy(labels, logits)


def average_gradients(tower_grads):
    averaged = []
    for grad_and_vars in zip(*tower_grads):
        grads = tf.stack([g for g, _ in grad_and_vars])
        averaged.append((tf.reduce_mean(grads, axis=0), grad_and_vars[0][1]))
    return averaged


def build_train_op(images, labels, lr=0.05):
    optimizer = tf.train.GradientDescentOptimizer(lr)
    image_splits = tf.split(images, NUM_TOWERS)
    label_splits = tf.split(labels, NUM_TOWERS)
    tower_grads = []
    with tf.variable_scope(tf.get_variable_scope()):
        for i in range(NUM_TOWERS):
            with tf.device("/cpu:0"), tf.name_scope("%s_%d" % (TOWER_NAME, i)):
                loss = tower_loss(image_splits[i], label_splits[i])
                tf.get_variable_scope().reuse_variables()
                tower_grads.append(optimizer.compute_gradients(loss))
                if i == 0:
                    # the statistics of the first tower are representative (as in the TF examples)
                    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="tower_0")
    with tf.control_dependencies(update_ops):
        return optimizer.apply_gradients(average_gradients(tower_grads)), loss


def main():
    images = tf.placeholder(tf.float32, [16, 8, 8, 3])
    labels = tf.placeholder(tf.int64, [16])
    train_op, loss = build_train_op(images, labels)
    moving_mean = [v for v in tf.global_variables() if v.name == "bn1/moving_mean:0"][0]
    rng = np.random.RandomState(0)
    means = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(4):
            sess.run(train_op, {images: rng.randn(16, 8, 8, 3) + 1.5, labels: rng.randint(0, 2, 16)})
            means.append(sess.run(moving_mean))
    updated = all(not np.allclose(a, b) for a, b in zip([np.zeros_like(means[0])] + means, means))
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")


if __name__ == "__main__":
    main()
