"""The BN mode lives in a non-trainable tf.Variable that the session toggles with assign ops before
training and before evaluation (no feed needed); update ops are grouped with the train op."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class ModeSwitch:
    def __init__(self):
        self.is_training = tf.Variable(True, trainable=False, name="is_training")
        self.to_train = tf.assign(self.is_training, True)
        self.to_eval = tf.assign(self.is_training, False)

    def train(self, sess):
        sess.run(self.to_train)

    def eval(self, sess):
        sess.run(self.to_eval)


def build(inputs, targets, mode):
    h = tf.layers.dense(inputs, 12, name="hidden")
    h = tf.layers.batch_normalization(h, training=mode.is_training, name="bn")
    out = tf.layers.dense(tf.nn.relu(h), 1, name="out")
    loss = tf.reduce_mean(tf.square(out - targets))
    minimize = tf.train.AdamOptimizer(1e-2).minimize(loss)
    train_op = tf.group(minimize, *tf.get_collection(tf.GraphKeys.UPDATE_OPS))
    return loss, train_op


def main():
    inputs = tf.placeholder(tf.float32, [None, 5])
    targets = tf.placeholder(tf.float32, [None, 1])
    mode = ModeSwitch()
    loss, train_op = build(inputs, targets, mode)
    moving_mean = [v for v in tf.global_variables() if v.name == "bn/moving_mean:0"][0]
    rng = np.random.RandomState(0)
    ok = True
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(3):
            mode.train(sess)
            before = sess.run(moving_mean)
            for _ in range(3):
                sess.run(train_op, {inputs: rng.randn(16, 5) + 2, targets: rng.randn(16, 1)})
            trained = sess.run(moving_mean)
            mode.eval(sess)
            print("epoch", epoch, sess.run(loss, {inputs: rng.randn(16, 5) - 4, targets: rng.randn(16, 1)}))
            ok &= not np.allclose(before, trained) and np.allclose(trained, sess.run(moving_mean))
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")


if __name__ == "__main__":
    main()
