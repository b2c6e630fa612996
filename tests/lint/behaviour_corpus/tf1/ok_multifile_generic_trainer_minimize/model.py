"""Network builder handed to the generic Trainer (trainer.py knows nothing about the layers)."""
import tensorflow.compat.v1 as tf


def dense_norm(x, units, is_training, name):
    with tf.variable_scope(name):
        x = tf.layers.dense(x, units, use_bias=False, name="fc")
        norm = tf.layers.BatchNormalization(momentum=0.9, name="bn")
        x = norm(x, training=is_training)
        # the trainer only runs its train op: make the statistics update part of the forward pass
        with tf.control_dependencies(norm.updates):
            x = tf.identity(x)
        return tf.nn.relu(x)


def build_net(inputs, is_training, num_classes=3):
    with tf.variable_scope("classifier"):
        x = dense_norm(inputs, 16, is_training, "block1")
        return tf.layers.dense(x, num_classes, name="head")
