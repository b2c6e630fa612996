"""Model definition shared by the training and the evaluation scripts (cifar10.py-style layout)."""
import tensorflow.compat.v1 as tf


def inference(images, is_training=True):
    with tf.variable_scope("net"):
        hidden = tf.layers.dense(images, 16, use_bias=False, name="fc1")
        hidden = tf.layers.batch_normalization(hidden, training=is_training, name="bn1")
        hidden = tf.nn.relu(hidden)
        return tf.layers.dense(hidden, 3, name="logits")


def loss(logits, labels):
    return tf.losses.sparse_softmax_cross_entropy(labels, logits)


def train_op(total_loss, lr, global_step):
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        return tf.train.MomentumOptimizer(lr, 0.9).minimize(total_loss, global_step=global_step)
