"""The train op is wrapped in control_dependencies(UPDATE_OPS) once, then rebuilt a few lines
later when the author added a global step and learning-rate decay - the second minimize() is
outside the block and is the op the loop runs. The first train op is never fetched, so the BN
update ops never run and the moving statistics stay at 0/1."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def conv_net(images, training):
    h = tf.layers.conv2d(images, 8, 3, padding="same", use_bias=False, name="conv1")
    h = tf.nn.relu(tf.layers.batch_normalization(h, training=training, name="bn1"))
    h = tf.reduce_mean(h, axis=[1, 2])
    return tf.layers.dense(h, 3, name="logits")


def main(steps=5):
    images = tf.placeholder(tf.float32, [None, 6, 6, 1])
    labels = tf.placeholder(tf.int64, [None])
    training = tf.placeholder_with_default(False, [], name="training")
    logits = conv_net(images, training)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)

    optimizer = tf.train.MomentumOptimizer(0.05, 0.9)
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = optimizer.minimize(loss)

    global_step = tf.train.get_or_create_global_step()
    lr = tf.train.exponential_decay(0.05, global_step, decay_steps=100, decay_rate=0.9)
    optimizer = tf.train.MomentumOptimizer(lr, 0.9)
    train_op = optimizer.minimize(loss, global_step=global_step)

    moving_mean = tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0")
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(steps):
            sess.run(train_op, {images: rng.randn(8, 6, 6, 1) + 2, labels: rng.randint(0, 3, 8), training: True})
        frozen = np.allclose(sess.run(moving_mean), 0)
        print("step", sess.run(global_step))
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
