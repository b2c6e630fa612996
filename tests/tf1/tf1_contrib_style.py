"""A minimal ``tf.contrib.layers.batch_norm`` (as in TF-Slim) written for the tests.

tf_slim 1.1.0 does not run on TensorFlow 2.21 (it uses the removed ``ops.Tensor`` and
``control_flow_ops.cond``), so this reproduces the part of its behaviour that matters here:
``updates_collections=UPDATE_OPS`` (default) puts the moving-average updates in a collection the
caller must run; ``updates_collections=None`` puts them in the control dependencies of the output
("force in-place updates"), so training updates the statistics with no wiring.
"""
import tensorflow as tf
from tensorflow.python.training import moving_averages

tf1 = tf.compat.v1


def batch_norm(inputs, decay=0.9, epsilon=1e-3, is_training=True,
               updates_collections=tf1.GraphKeys.UPDATE_OPS, scope=None):
    with tf1.variable_scope(scope, "BatchNorm", [inputs]):
        channels = inputs.shape[-1]
        beta = tf1.get_variable("beta", [channels], initializer=tf1.zeros_initializer())
        moving_mean = tf1.get_variable("moving_mean", [channels], initializer=tf1.zeros_initializer(),
                                       trainable=False,
                                       collections=[tf1.GraphKeys.GLOBAL_VARIABLES, tf1.GraphKeys.MODEL_VARIABLES])
        moving_variance = tf1.get_variable("moving_variance", [channels], initializer=tf1.ones_initializer(),
                                           trainable=False,
                                           collections=[tf1.GraphKeys.GLOBAL_VARIABLES, tf1.GraphKeys.MODEL_VARIABLES])
        axes = list(range(len(inputs.shape) - 1))
        batch_mean, batch_variance = tf1.nn.moments(inputs, axes)

        def make_updates():
            return (moving_averages.assign_moving_average(moving_mean, batch_mean, decay, zero_debias=False),
                    moving_averages.assign_moving_average(moving_variance, batch_variance, decay,
                                                          zero_debias=False))

        def cond(pred, true_fn, false_fn):  # contrib's utils.smart_cond: fold Python bools
            if isinstance(pred, bool):
                return true_fn() if pred else false_fn()
            return tf1.cond(pred, true_fn, false_fn)

        mean, variance = cond(is_training, lambda: (batch_mean, batch_variance),
                              lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
        outputs = tf1.nn.batch_normalization(inputs, mean, variance, beta, None, epsilon)
        if is_training is False:
            return outputs
        if updates_collections is None:
            def force_updates():
                with tf.control_dependencies(make_updates()):
                    return tf.identity(outputs)

            return cond(is_training, force_updates, lambda: tf.identity(outputs))
        update_mean, update_variance = cond(is_training, make_updates,
                                            lambda: (tf.identity(moving_mean), tf.identity(moving_variance)))
        tf1.add_to_collections(updates_collections, update_mean)
        tf1.add_to_collections(updates_collections, update_variance)
        return outputs
