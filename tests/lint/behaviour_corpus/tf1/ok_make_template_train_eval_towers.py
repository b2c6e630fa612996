"""tf.make_template shares one network between a training tower (training=True) and an
evaluation tower (training=False); the update ops of the training tower run with the optimizer."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def network(inputs, training):
    h = tf.layers.dense(inputs, 10, name="fc1")
    h = tf.layers.batch_normalization(h, training=training, name="bn1")
    return tf.layers.dense(tf.nn.relu(h), 2, name="logits")


def build(train_x, train_y, eval_x):
    shared_net = tf.make_template("classifier", network)
    train_logits = shared_net(train_x, training=True)
    eval_logits = shared_net(eval_x, training=False)
    loss = tf.losses.sparse_softmax_cross_entropy(train_y, train_logits)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS, scope="classifier")
    optimizer = tf.train.MomentumOptimizer(0.05, 0.9)
    with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(loss)
    return train_op, tf.argmax(eval_logits, 1)


if __name__ == "__main__":
    rng = np.random.RandomState(0)
    train_x = tf.placeholder(tf.float32, [None, 4])
    train_y = tf.placeholder(tf.int32, [None])
    eval_x = tf.placeholder(tf.float32, [None, 4])
    train_op, predictions = build(train_x, train_y, eval_x)
    moving_mean = [v for v in tf.global_variables() if v.name.endswith("bn1/moving_mean:0")]
    assert len(moving_mean) == 1
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {train_x: rng.randn(16, 4) + 2.0, train_y: rng.randint(0, 2, 16)})
        trained = sess.run(moving_mean[0])
        sess.run(predictions, {eval_x: rng.randn(16, 4) - 5.0})
        unchanged_by_eval = np.allclose(trained, sess.run(moving_mean[0]))
        ok = not np.allclose(trained, 0) and unchanged_by_eval
        print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
