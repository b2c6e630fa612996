"""Evaluation: rebuild the graph, restore the latest checkpoint, report predictions."""
import numpy as np
import tensorflow.compat.v1 as tf

import net


def restore_and_predict(ckpt_dir, test_x, batch_size):
    graph = tf.Graph()
    with graph.as_default():
        images = tf.placeholder(tf.float32, [None, test_x.shape[1]], name="images")
        logits = net.inference(images)
        probs = tf.nn.softmax(logits)
        saver = tf.train.Saver()
        with tf.Session(graph=graph) as sess:
            saver.restore(sess, tf.train.latest_checkpoint(ckpt_dir))
            full = np.concatenate([sess.run(probs, {images: test_x[i:i + batch_size]})
                                   for i in range(0, len(test_x), batch_size)])
            pairs = np.concatenate([sess.run(probs, {images: test_x[i:i + 2]})
                                    for i in range(0, len(test_x), 2)])
            restored_mean = sess.run(graph.get_tensor_by_name("net/bn1/moving_mean:0"))
    return full, pairs, restored_mean
