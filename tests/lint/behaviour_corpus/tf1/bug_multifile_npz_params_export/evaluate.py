"""Stand-alone evaluation: rebuild the network in inference mode and load the .npz weights."""
import numpy as np
import tensorflow.compat.v1 as tf

from model import Network
from utils import load_and_assign_npz


def evaluate(weights_path, xs, ys):
    graph = tf.Graph()
    with graph.as_default():
        inputs = tf.placeholder(tf.float32, [None, xs.shape[1]], name="inputs")
        net = Network(inputs, is_training=False)
        predictions = tf.argmax(net.outputs, 1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            load_and_assign_npz(sess, net.all_params, weights_path)
            preds = sess.run(predictions, {inputs: xs})
            moving_mean = sess.run(graph.get_tensor_by_name("net/bn1/moving_mean:0"))
    return float(np.mean(preds == ys)), moving_mean
