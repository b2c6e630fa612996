"""cifar10_train-style TF1 script with BatchNorm added to the model: the train op is
tf.group(apply_gradient_op, variables_averages_op) -- gradients applied, then an
ExponentialMovingAverage of the trainable variables -- driven by a hand-written session loop with
before_run/after_run hooks (a MonitoredTrainingSession look-alike on a plain Session). The group
looks complete, but the BN moving-average updates in UPDATE_OPS are not part of it: the checkpoint
and the evaluation graph (restored through ema.variables_to_restore()) carry 0/1 statistics."""
import os
import random
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

FLAGS = {"max_steps": 12, "batch_size": 16, "learning_rate": 0.05, "moving_average_decay": 0.99,
         "log_frequency": 4}


def inference(images, is_training):
    with tf.variable_scope("convnet"):
        net = tf.layers.dense(images, 16, use_bias=False, name="local3")
        net = tf.layers.batch_normalization(net, momentum=0.9, training=is_training, name="local3_bn")
        net = tf.nn.relu(net)
        net = tf.layers.dense(net, 16, use_bias=False, name="local4")
        net = tf.layers.batch_normalization(net, momentum=0.9, training=is_training, name="local4_bn")
        return tf.layers.dense(tf.nn.relu(net), 4, name="softmax_linear")


def distorted_inputs(rng, batch_size):
    images = rng.randn(batch_size, 8).astype(np.float32) * 2.0 + 3.0
    labels = (images[:, 0] > 3.0).astype(np.int64) + 2 * (images[:, 1] > 3.0).astype(np.int64)
    return images, labels


def build_train_op(total_loss, global_step):
    opt = tf.train.GradientDescentOptimizer(FLAGS["learning_rate"])
    grads = opt.compute_gradients(total_loss)
    apply_gradient_op = opt.apply_gradients(grads, global_step=global_step)
    variable_averages = tf.train.ExponentialMovingAverage(FLAGS["moving_average_decay"], global_step)
    variables_averages_op = variable_averages.apply(tf.trainable_variables())
    return tf.group(apply_gradient_op, variables_averages_op, name="train")


class LoggerHook:
    def __init__(self, loss):
        self.loss, self.step = loss, 0

    def before_run(self):
        return [self.loss]

    def after_run(self, values):
        self.step += 1
        if self.step % FLAGS["log_frequency"] == 0:
            print(f"step {self.step}: loss {values[0]:.3f}")


def run_loop(sess, train_op, feed_fn, hooks, max_steps):
    for _ in range(max_steps):
        extra = [h.before_run() for h in hooks]
        results = sess.run([train_op, extra], feed_dict=feed_fn())
        for hook, values in zip(hooks, results[1]):
            hook.after_run(values)


def train(train_dir):
    rng = np.random.RandomState(0)
    random.seed(0)
    with tf.Graph().as_default():
        tf.set_random_seed(0)
        global_step = tf.train.get_or_create_global_step()
        images = tf.placeholder(tf.float32, [None, 8], name="images")
        labels = tf.placeholder(tf.int64, [None], name="labels")
        logits = inference(images, is_training=True)
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        train_op = build_train_op(loss, global_step)
        saver = tf.train.Saver()

        def feed_fn():
            x, y = distorted_inputs(rng, FLAGS["batch_size"])
            return {images: x, labels: y}

        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            run_loop(sess, train_op, feed_fn, [LoggerHook(loss)], FLAGS["max_steps"])
            saver.save(sess, os.path.join(train_dir, "model.ckpt"), global_step=global_step)


def evaluate(train_dir):
    with tf.Graph().as_default() as graph:
        images = tf.placeholder(tf.float32, [None, 8])
        inference(images, is_training=False)
        variable_averages = tf.train.ExponentialMovingAverage(FLAGS["moving_average_decay"])
        saver = tf.train.Saver(variable_averages.variables_to_restore())
        with tf.Session() as sess:
            saver.restore(sess, tf.train.latest_checkpoint(train_dir))
            return sess.run(graph.get_tensor_by_name("convnet/local3_bn/moving_mean:0"))


def main():
    with tempfile.TemporaryDirectory() as train_dir:
        train(train_dir)
        moving_mean = evaluate(train_dir)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
