"""Classic example 2 (clean): the training flag is a placeholder fed ``True`` while training, and
the update ops in ``UPDATE_OPS`` are fetched with the optimizer.

The moving statistics follow the data (moving mean moves towards 5).

Run: ``python examples/classic_2_placeholder.py`` (TensorFlow 2.x with ``tf_keras``).
"""
import os

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
        # Correct - training phase is a placeholder
        training_phase = tf.placeholder(tf.bool, [], name="training_phase")

        input_tensor = tf.placeholder(tf.float32, [None, 10])
        target = tf.placeholder(tf.float32, [None, 1])
        bn_layer = tf.layers.batch_normalization(input_tensor, training=training_phase, name="bn")
        prediction = tf.layers.dense(bn_layer, 1)
        loss = tf.reduce_mean(tf.square(prediction - target))
        optimizer = tf.train.GradientDescentOptimizer(0.01).minimize(loss)

        # Update ops are explicitly fetched in the training loop
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
        moving_mean = [v for v in tf.global_variables() if v.name == "bn/moving_mean:0"][0]

        with tf.Session(graph=graph) as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(steps):
                x = rng.normal(5.0, 3.0, size=(32, 10)).astype("float32")
                y = x.sum(axis=1, keepdims=True)
                # Correctly feed True during training
                sess.run([optimizer, update_ops], feed_dict={input_tensor: x, target: y, training_phase: True})
            # Evaluation: training_phase False uses the moving statistics
            x = rng.normal(5.0, 3.0, size=(32, 10)).astype("float32")
            sess.run(loss, feed_dict={input_tensor: x, target: x.sum(axis=1, keepdims=True), training_phase: False})
            return sess.run(moving_mean)


if __name__ == "__main__":
    print("moving_mean after training:", main())
