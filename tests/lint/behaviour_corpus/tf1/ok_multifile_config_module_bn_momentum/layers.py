"""Building blocks shared by the models of this project."""
import tensorflow.compat.v1 as tf

import config as cfg


def fc_bn_relu(x, units, is_training, name):
    with tf.variable_scope(name):
        x = tf.layers.dense(x, units, use_bias=False, name="fc")
        x = tf.layers.batch_normalization(x, momentum=cfg.BN_MOMENTUM, epsilon=cfg.BN_EPS,
                                          training=is_training, name="bn")
        return tf.nn.relu(x)
