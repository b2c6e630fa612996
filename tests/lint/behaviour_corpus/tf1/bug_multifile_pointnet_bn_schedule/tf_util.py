"""Layer wrappers in the PointNet tf_util style: each layer optionally followed by BN with a decay tensor."""
import tensorflow.compat.v1 as tf


def fully_connected(inputs, num_outputs, scope, activation_fn=tf.nn.relu, bn=False, bn_decay=None,
                    is_training=None):
    with tf.variable_scope(scope):
        outputs = tf.layers.dense(inputs, num_outputs, use_bias=not bn, name="dense")
        if bn:
            outputs = batch_norm_for_fc(outputs, is_training, bn_decay, "bn")
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return outputs


def batch_norm_for_fc(inputs, is_training, bn_decay, scope):
    decay = bn_decay if bn_decay is not None else 0.9
    return tf.layers.batch_normalization(inputs, momentum=decay, training=is_training, fused=False, name=scope)
