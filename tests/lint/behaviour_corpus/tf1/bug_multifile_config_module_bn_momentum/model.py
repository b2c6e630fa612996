"""The classifier: one fc-bn-relu block and a linear head."""
import tensorflow.compat.v1 as tf

from layers import fc_bn_relu


def build_model(inputs, is_training, num_classes, hidden):
    with tf.variable_scope("net"):
        h = fc_bn_relu(inputs, hidden, is_training, "block1")
        return tf.layers.dense(h, num_classes, name="logits")
