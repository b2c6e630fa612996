"""Network builder handed to the generic Trainer (trainer.py knows nothing about the layers)."""
import tensorflow.compat.v1 as tf


def dense_norm(x, units, is_training, name):
    with tf.variable_scope(name):
        x = tf.layers.dense(x, units, use_bias=False, name="fc")
        x = tf.layers.batch_normalization(x, momentum=0.9, training=is_training, name="bn")
        return tf.nn.relu(x)


def build_net(inputs, is_training, num_classes=3):
    with tf.variable_scope("classifier"):
        x = dense_norm(inputs, 16, is_training, "block1")
        return tf.layers.dense(x, num_classes, name="head")
