"""Graph construction of the training op and the step loop."""
import tensorflow.compat.v1 as tf


def make_train_op(loss, learning_rate):
    global_step = tf.train.get_or_create_global_step()
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        return tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)


def run_training(sess, train_op, loss, feeds):
    for step, feed in enumerate(feeds):
        _, value = sess.run([train_op, loss], feed)
        if step % 10 == 0:
            print(f"step {step} loss {value:.4f}")
