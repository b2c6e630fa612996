"""TF1 training script that keeps one feed dict for the BN flag: feed = {is_training: True} is
built before the loop and merged into every sess.run. The validation block does
feed[is_training] = False to evaluate, and the training steps that follow reuse the same dict:
after the first validation every train_op runs BatchNorm in inference mode and its moving
statistics stop updating."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def model(x, is_training):
    h = tf.layers.dense(x, 16, use_bias=False, name="fc1")
    h = tf.layers.batch_normalization(h, training=is_training, name="bn1")
    h = tf.nn.relu(h)
    return tf.layers.dense(h, 1, name="out")


def main(epochs=3, steps=3, val_every=1):
    x = tf.placeholder(tf.float32, [None, 5], name="x")
    y = tf.placeholder(tf.float32, [None, 1], name="y")
    is_training = tf.placeholder(tf.bool, [], name="is_training")
    pred = model(x, is_training)
    loss = tf.losses.mean_squared_error(y, pred)
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    moving_mean = tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0")
    rng = np.random.RandomState(0)
    feed = {is_training: True}
    moved = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(epochs):
            before = sess.run(moving_mean)
            for _ in range(steps):
                feed.update({x: rng.randn(16, 5) + 2, y: rng.randn(16, 1)})
                sess.run(train_op, feed_dict=feed)
            moved.append(not np.allclose(before, sess.run(moving_mean)))
            if (epoch + 1) % val_every == 0:
                feed[is_training] = False
                feed.update({x: rng.randn(16, 5), y: rng.randn(16, 1)})
                print(f"epoch {epoch} val loss {sess.run(loss, feed_dict=feed):.3f}")
    print("BN-GROUND-TRUTH:", "stale" if moved == [True, False, False] else "updated")


if __name__ == "__main__":
    main()
