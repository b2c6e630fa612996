"""Inference-only TF1 script: BN with training=False restoring trained statistics (nothing is trained)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def build_inference_graph(x):
    h = tf.layers.dense(x, 4, name="fc")
    h = tf.layers.batch_normalization(h, training=False, name="bn")
    return tf.nn.softmax(tf.layers.dense(h, 2, name="cls"))


if __name__ == "__main__":
    x = tf.placeholder(tf.float32, [None, 3])
    probs = build_inference_graph(x)
    mm = tf.get_default_graph().get_tensor_by_name("bn/moving_mean:0")
    assign = tf.assign(tf.global_variables("bn/moving_mean")[0], [0.5, -0.5, 1.0, 0.0])
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(assign)  # stands in for saver.restore(sess, checkpoint)
        sess.run(probs, {x: np.random.RandomState(0).randn(8, 3) * 5})
        kept = np.allclose(sess.run(mm), [0.5, -0.5, 1.0, 0.0])
    print("BN-GROUND-TRUTH:", "inference-only" if kept else "contaminated")
