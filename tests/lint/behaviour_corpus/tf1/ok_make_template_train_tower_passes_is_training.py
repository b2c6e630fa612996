"""TF1 graph-mode script with one graph for training and validation: the network is wrapped once with
tf.compat.v1.make_template('classifier', conv_net, num_classes=...) so the train tower and the
validation tower share variables; the train tower calls the template on a tf.data iterator with
is_training=True, the validation tower on an images placeholder with the default (False). minimize()
runs under control_dependencies(UPDATE_OPS of the train name scope). Measured: whether a validation
example's logits depend on the rest of its batch."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

NUM_CLASSES = 3


def conv_net(images, is_training=False, num_classes=NUM_CLASSES):
    h = v1.layers.conv2d(images, 6, 3, padding="same", use_bias=False, name="conv1")
    h = v1.layers.batch_normalization(h, momentum=0.8, training=is_training, name="bn1")
    h = tf.reduce_mean(tf.nn.relu(h), axis=[1, 2])
    return v1.layers.dense(h, num_classes, name="logits")


def pipeline(rng, n, shift):
    images = rng.normal(shift, 1.0, (n, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, NUM_CLASSES, n).astype("int64")
    return v1.data.make_one_shot_iterator(
        tf.data.Dataset.from_tensor_slices((images, labels)).repeat().batch(16)).get_next()


def main():
    rng = np.random.default_rng(0)
    v1.set_random_seed(0)
    classifier = v1.make_template("classifier", conv_net, num_classes=NUM_CLASSES)
    with tf.name_scope("train") as train_scope:
        images, labels = pipeline(rng, 64, 1.0)
        loss = v1.losses.sparse_softmax_cross_entropy(labels, classifier(images, is_training=True))
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS, train_scope)):
            train_op = v1.train.AdamOptimizer(1e-2).minimize(loss)
    with tf.name_scope("valid"):
        val_images = v1.placeholder(tf.float32, [None, 8, 8, 1], name="images")
        val_logits = classifier(val_images)
    held_out = rng.normal(1.0, 1.0, (32, 8, 8, 1)).astype("float32")
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(15):
            sess.run(train_op)
        full_batch = sess.run(val_logits, {val_images: held_out})
        small_batch = sess.run(val_logits, {val_images: held_out[:4]})
        moving_mean = sess.run([v for v in v1.global_variables() if "moving_mean" in v.name][0])
    if np.allclose(moving_mean, 0.0):
        behaviour = "frozen"
    elif np.allclose(full_batch[:4], small_batch, atol=1e-4):
        behaviour = "updated"
    else:
        behaviour = "eval-uses-batch-stats"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
