"""Network definition. Like a TensorLayer network object, it exposes `all_params`, the list the
project's save/load helpers (utils.py) write to and read from .npz files."""
import tensorflow.compat.v1 as tf


class Network:
    def __init__(self, inputs, is_training, num_classes=2, hidden=16, scope="net"):
        with tf.variable_scope(scope, reuse=tf.AUTO_REUSE):
            h = tf.layers.dense(inputs, hidden, use_bias=False, name="fc1")
            h = tf.layers.batch_normalization(h, momentum=0.9, training=is_training, name="bn1")
            h = tf.nn.relu(h)
            self.outputs = tf.layers.dense(h, num_classes, name="logits")
        self.all_params = tf.trainable_variables(scope)
