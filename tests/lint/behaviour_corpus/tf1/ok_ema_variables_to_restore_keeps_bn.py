"""Classic TF1 recipe (cifar10_train/cifar10_eval): training keeps an ExponentialMovingAverage of
the trainable variables, and the evaluation graph restores through
`tf.train.Saver(ema.variables_to_restore())`. Only trainable variables are averaged, which looks as
if the BN moving statistics were left out, but variables_to_restore() maps every other global
variable (moving_mean/moving_variance included) to itself, so the evaluated graph gets the trained
moving statistics."""
import os
import tempfile

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

MOVING_AVERAGE_DECAY = 0.9


def inference(x, is_training):
    with tf.variable_scope("model"):
        h = tf.layers.dense(x, 12, use_bias=False, name="fc1")
        h = tf.layers.batch_normalization(h, momentum=0.9, training=is_training, name="bn1")
        return tf.layers.dense(tf.nn.relu(h), 3, name="logits")


def train(train_dir):
    with tf.Graph().as_default() as graph:
        global_step = tf.train.get_or_create_global_step()
        x = tf.placeholder(tf.float32, [None, 5])
        y = tf.placeholder(tf.int64, [None])
        loss = tf.losses.sparse_softmax_cross_entropy(y, inference(x, is_training=True))
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            opt_op = tf.train.GradientDescentOptimizer(0.05).minimize(loss, global_step=global_step)
        ema = tf.train.ExponentialMovingAverage(MOVING_AVERAGE_DECAY, global_step)
        with tf.control_dependencies([opt_op]):
            train_op = ema.apply(tf.trainable_variables())
        saver = tf.train.Saver()
        rng = np.random.RandomState(1)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(10):
                sess.run(train_op, {x: rng.randn(16, 5) + 2.0, y: rng.randint(0, 3, 16)})
            trained_mean = sess.run(graph.get_tensor_by_name("model/bn1/moving_mean:0"))
            saver.save(sess, os.path.join(train_dir, "model.ckpt"), global_step=global_step)
    return trained_mean


def evaluate(train_dir):
    with tf.Graph().as_default() as graph:
        x = tf.placeholder(tf.float32, [None, 5])
        inference(x, is_training=False)
        variable_averages = tf.train.ExponentialMovingAverage(MOVING_AVERAGE_DECAY)
        saver = tf.train.Saver(variable_averages.variables_to_restore())
        with tf.Session() as sess:
            saver.restore(sess, tf.train.latest_checkpoint(train_dir))
            return sess.run(graph.get_tensor_by_name("model/bn1/moving_mean:0"))


def main():
    with tempfile.TemporaryDirectory() as train_dir:
        trained_mean = train(train_dir)
        restored_mean = evaluate(train_dir)
    if np.allclose(trained_mean, 0.0):
        behaviour = "frozen"
    elif np.allclose(restored_mean, trained_mean):
        behaviour = "restored"
    elif np.allclose(restored_mean, 0.0):
        behaviour = "lost"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
