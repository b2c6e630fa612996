"""Multi-tower habit in a single-tower script: the train op is built inside
`with tf.name_scope("train") as scope:` and the BN updates are collected with
tf.get_collection(UPDATE_OPS, scope). The network was built earlier by Model.__init__ under the
'classifier' scope, so the 'train/' filter matches no update op: the control dependency is empty
and the moving statistics never leave 0/1."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class Model:
    def __init__(self, features, is_training, hidden=16, classes=2):
        with tf.variable_scope("classifier") as var_scope:
            self.var_scope = var_scope
            net = tf.layers.dense(features, hidden, use_bias=False, name="fc1")
            net = tf.layers.batch_normalization(net, training=is_training, name="bn1")
            net = tf.nn.relu(net)
            net = tf.layers.dense(net, hidden, use_bias=False, name="fc2")
            net = tf.layers.batch_normalization(net, training=is_training, name="bn2")
            self.logits = tf.layers.dense(tf.nn.relu(net), classes, name="logits")


def build_train_op(model, labels, learning_rate=0.01):
    with tf.name_scope("train") as scope:
        loss = tf.losses.sparse_softmax_cross_entropy(labels, model.logits)
        global_step = tf.train.get_or_create_global_step()
        update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope)
        with tf.control_dependencies(update_ops):
            train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    return loss, train_op


def main():
    features = tf.placeholder(tf.float32, [None, 6], name="features")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    model = Model(features, is_training)
    loss, train_op = build_train_op(model, labels)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(model.logits, 1), labels), tf.float32))
    moving_means = [v for v in tf.global_variables() if v.name.endswith("moving_mean:0")]
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for step in range(10):
            x = rng.randn(32, 6) + 1.5
            y = (x[:, 0] > 1.5).astype(np.int64)
            _, loss_value = sess.run([train_op, loss], {features: x, labels: y, is_training: True})
        x_val = rng.randn(64, 6) + 1.5
        print("loss", loss_value, "val acc", sess.run(accuracy, {features: x_val, labels: (x_val[:, 0] > 1.5)}))
        means = sess.run(moving_means)
    print("BN-GROUND-TRUTH:", "frozen" if all(np.allclose(m, 0.0) for m in means) else "updated")


if __name__ == "__main__":
    main()
