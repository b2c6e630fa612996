"""TF1 loop whose feed dicts come from one helper, make_feed(batch, training). The validation
block was written as make_feed(val_batch, True) - copied from the training call. The BN updates
are attached to the loss tensor (slim's with_dependencies idiom), so every validation fetch of the
loss with the flag True normalizes with the validation batch AND folds it into the moving
averages."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()

x = tf.placeholder(tf.float32, [None, 4], name="x")
y = tf.placeholder(tf.float32, [None, 1], name="y")
is_training = tf.placeholder(tf.bool, [], name="is_training")


def make_feed(batch, training):
    xs, ys = batch
    return {x: xs, y: ys, is_training: training}


def network(inputs):
    h = tf.layers.dense(inputs, 8, use_bias=False, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    return tf.layers.dense(tf.nn.relu(h), 1, name="out")


def main(epochs=2):
    pred = network(x)
    loss = tf.losses.mean_squared_error(y, pred)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        loss = tf.identity(loss, name="total_loss")
    train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    moving_mean = tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0")
    rng = np.random.RandomState(0)
    train_batches = [(rng.randn(16, 4), rng.randn(16, 1)) for _ in range(3)]
    val_batches = [(rng.randn(16, 4) * 3 + 6, rng.randn(16, 1)) for _ in range(2)]
    absorbed = False
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(epochs):
            for batch in train_batches:
                sess.run(train_op, make_feed(batch, True))
            before = sess.run(moving_mean)
            val_loss = np.mean([sess.run(loss, make_feed(b, True)) for b in val_batches])
            absorbed |= not np.allclose(sess.run(moving_mean), before)
            print("epoch", epoch, "val loss", val_loss)
    print("BN-GROUND-TRUTH:", "contaminated" if absorbed else "updated")


if __name__ == "__main__":
    main()
