"""Classic example 1 (flagged BN101): the training flag is the constant ``False``.

``tf.layers.batch_normalization`` then always normalizes with its moving statistics and never
updates them: after training, ``moving_mean`` is still all zeros.

Run: ``python examples/classic_1_constant_false.py`` (TensorFlow 2.x with ``tf_keras``).
"""
import os

# tf.compat.v1.layers needs tf_keras on TF >= 2.16; this must be set before TensorFlow loads.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402


def main(steps: int = 20, seed: int = 0):
    """Train a tiny model for ``steps`` steps; return the BN layer's moving mean."""
    tf.disable_eager_execution()
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        # Incorrect - the training phase is consistently set to False
        training_phase = tf.constant(False)

        input_tensor = tf.placeholder(tf.float32, [None, 10])
        target = tf.placeholder(tf.float32, [None, 1])
        bn_layer = tf.layers.batch_normalization(input_tensor, training=training_phase, name="bn")
        prediction = tf.layers.dense(bn_layer, 1)
        loss = tf.reduce_mean(tf.square(prediction - target))
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)  # empty: the flag is constant
        with tf.control_dependencies(update_ops):
            train_op = tf.train.GradientDescentOptimizer(0.01).minimize(loss)
        moving_mean = [v for v in tf.global_variables() if v.name == "bn/moving_mean:0"][0]

        # Session execution will always use pre-computed moving averages
        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                x = rng.normal(5.0, 3.0, size=(32, 10)).astype("float32")
                y = x.sum(axis=1, keepdims=True)
                sess.run(train_op, feed_dict={input_tensor: x, target: y})
            return sess.run(moving_mean)


if __name__ == "__main__":
    print("moving_mean after training:", main())
