"""get_model / get_loss, as in PointNet's models/*.py (here a per-point MLP + max pool on tiny clouds)."""
import tensorflow.compat.v1 as tf

import tf_util


def placeholder_inputs(batch_size, num_point):
    pointclouds_pl = tf.placeholder(tf.float32, shape=(batch_size, num_point, 3), name="pointclouds")
    labels_pl = tf.placeholder(tf.int64, shape=(batch_size,), name="labels")
    return pointclouds_pl, labels_pl


def get_model(point_cloud, is_training, bn_decay=None, num_classes=4):
    batch_size, num_point = point_cloud.get_shape().as_list()[:2]
    net = tf.reshape(point_cloud, [batch_size * num_point, 3])
    net = tf_util.fully_connected(net, 16, "mlp1", bn=True, bn_decay=bn_decay, is_training=is_training)
    net = tf.reduce_max(tf.reshape(net, [batch_size, num_point, 16]), axis=1)
    net = tf_util.fully_connected(net, 16, "fc1", bn=True, bn_decay=bn_decay, is_training=is_training)
    return tf_util.fully_connected(net, num_classes, "fc2", activation_fn=None)


def get_loss(pred, label):
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=pred, labels=label))
