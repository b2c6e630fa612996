"""is_training placeholder_with_default(False): the eval loop feeds False explicitly, the train loop feeds nothing."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


def conv_net(images, is_training):
    net = tf.layers.conv2d(images, 4, 3, padding="same")
    net = tf.layers.batch_normalization(net, training=is_training, name="bn1")
    net = tf.reduce_mean(tf.nn.relu(net), axis=[1, 2])
    return tf.layers.dense(net, 3)


def main():
    images = tf.placeholder(tf.float32, [None, 6, 6, 1], name="images")
    labels = tf.placeholder(tf.int64, [None], name="labels")
    is_training = tf.placeholder_with_default(False, [], name="is_training")
    logits = conv_net(images, is_training)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), labels), tf.float32))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        train_op = tf.train.AdamOptimizer(1e-2).minimize(loss)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch in range(2):
            for _ in range(3):
                sess.run(train_op, {images: rng.randn(8, 6, 6, 1) + 2, labels: rng.randint(0, 3, 8)})
            acc = sess.run(accuracy, {images: rng.randn(8, 6, 6, 1), labels: rng.randint(0, 3, 8),
                                      is_training: False})
            print("epoch", epoch, "val acc", acc)
        moving_mean = sess.run(tf.get_default_graph().get_tensor_by_name("bn1/moving_mean:0"))
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0) else "updated")


if __name__ == "__main__":
    main()
