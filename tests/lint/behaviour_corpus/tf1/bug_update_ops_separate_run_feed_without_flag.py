"""TF1 GAN-codebase habit of running the batch-norm updates in their own sess.run after the gradient
step (no control_dependencies on the optimizer). The step feeds `{x, y, is_training: True}` to the
train op, but the follow-up `sess.run(update_ops, feed_dict=data_feed(batch))` reuses the data-only
feed helper. is_training is a placeholder_with_default(False), so the update ops run with
training=False: their decay becomes 1 and the moving statistics never move."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

HP = {"steps": 10, "batch": 32, "lr": 0.02, "decay": 0.9}


class Graph:
    def __init__(self):
        self.x = tf.placeholder(tf.float32, [None, 8], name="x")
        self.y = tf.placeholder(tf.float32, [None, 1], name="y")
        self.is_training = tf.placeholder_with_default(False, [], name="is_training")
        with tf.variable_scope("critic"):
            h = tf.layers.dense(self.x, 16, use_bias=False, name="fc")
            h = tf.layers.batch_normalization(h, training=self.is_training, momentum=HP["decay"], name="bn")
            self.pred = tf.layers.dense(tf.nn.relu(h), 1, name="out")
        self.loss = tf.losses.mean_squared_error(self.y, self.pred)
        self.train_op = tf.train.AdamOptimizer(HP["lr"]).minimize(self.loss)
        self.update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="critic")

    def data_feed(self, batch):
        x, y = batch
        return {self.x: x, self.y: y}


def sample(rng):
    x = rng.normal(3.0, 1.0, (HP["batch"], 8))
    return x, x[:, :2].sum(axis=1, keepdims=True)


def main():
    tf.set_random_seed(0)
    rng = np.random.RandomState(0)
    g = Graph()
    moving_mean = tf.global_variables("critic/bn/moving_mean")[0]
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(HP["steps"]):
            batch = sample(rng)
            feed = dict(g.data_feed(batch))
            feed[g.is_training] = True
            _, loss = sess.run([g.train_op, g.loss], feed_dict=feed)
            sess.run(g.update_ops, feed_dict=g.data_feed(batch))
        print(f"loss {loss:.4f}")
        mean = sess.run(moving_mean)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
