"""TF1 trainer that attaches the BN update ops to the loss with the identity idiom
(`with control_dependencies(update_ops): loss = tf.identity(loss)`), builds the train op from that
loss, and runs the steps through a small Trainer class that fetches that loss with the train op."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1

HPARAMS = {"lr": 1e-2, "steps": 6, "batch": 16, "log_every": 100}


def net(x, is_training):
    h = v1.layers.dense(x, 8, name="hidden")
    h = v1.layers.batch_normalization(h, training=is_training, name="hidden_bn")
    return v1.layers.dense(tf.nn.relu(h), 1, name="logit")


class Trainer:
    def __init__(self, hp):
        self.hp = hp
        self.x = v1.placeholder(tf.float32, [None, 4], name="x")
        self.y = v1.placeholder(tf.float32, [None, 1], name="y")
        self.is_training = v1.placeholder_with_default(False, [], name="is_training")
        pred = net(self.x, self.is_training)
        loss = v1.losses.mean_squared_error(self.y, pred)
        with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
            self.loss = tf.identity(loss, name="total_loss")
        self.global_step = v1.train.get_or_create_global_step()
        self.train_op = v1.train.AdamOptimizer(hp["lr"]).minimize(self.loss, global_step=self.global_step)

    def fit(self, sess, batches):
        for xb, yb in batches:
            feed = {self.x: xb, self.y: yb, self.is_training: True}
            _, step, loss_value = sess.run([self.train_op, self.global_step, self.loss], feed)
            if step and step % self.hp["log_every"] == 0:
                print("step", step, loss_value)


if __name__ == "__main__":
    v1.set_random_seed(0)
    rng = np.random.RandomState(0)
    trainer = Trainer(HPARAMS)
    mm = [v for v in v1.global_variables() if v.name == "hidden_bn/moving_mean:0"][0]
    batches = [(rng.randn(HPARAMS["batch"], 4) + 2.0, rng.randn(HPARAMS["batch"], 1)) for _ in range(HPARAMS["steps"])]
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        start = sess.run(mm)
        trainer.fit(sess, batches)
        moved = float(np.abs(sess.run(mm) - start).max())
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-4 else "frozen")
