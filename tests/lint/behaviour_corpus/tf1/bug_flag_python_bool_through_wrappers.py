"""ResNet-style TF1 builder: is_training is a Python bool defaulting to False that passes through
two wrapper functions; the training script builds the graph without setting it."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def conv_bn_relu(inputs, filters, is_training=False, name=None):
    with tf.variable_scope(name):
        x = tf.layers.conv2d(inputs, filters, 3, padding="same", use_bias=False)
        x = tf.layers.batch_normalization(x, training=is_training, name="bn")
        return tf.nn.relu(x)


def residual_stage(inputs, filters, is_training=False, name="stage"):
    with tf.variable_scope(name):
        shortcut = tf.layers.conv2d(inputs, filters, 1, use_bias=False)
        x = conv_bn_relu(inputs, filters, is_training, name="a")
        x = conv_bn_relu(x, filters, is_training, name="b")
        return x + shortcut


def inference(images, num_classes, is_training=False):
    x = residual_stage(images, 8, is_training, name="stage1")
    x = tf.reduce_mean(x, axis=[1, 2])
    return tf.layers.dense(x, num_classes)


def build_train_op(images, labels, num_classes=3):
    logits = inference(images, num_classes)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        return tf.train.GradientDescentOptimizer(0.05).minimize(loss), loss


if __name__ == "__main__":
    images = tf.placeholder(tf.float32, [None, 8, 8, 3])
    labels = tf.placeholder(tf.int32, [None])
    train_op, loss = build_train_op(images, labels)
    moving_mean = [v for v in tf.global_variables() if v.name == "stage1/a/bn/moving_mean:0"][0]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {images: rng.randn(8, 8, 8, 3) + 1.5, labels: rng.randint(0, 3, 8)})
        print("BN-GROUND-TRUTH:", "frozen" if np.allclose(sess.run(moving_mean), 0) else "updated")
