"""tf.keras BatchNormalization layers used inside a TF1 graph without a training argument: the
layer follows the Keras learning phase, which nobody sets, so it normalises with its moving statistics
and its update ops (grouped into the train op) leave them unchanged."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow.compat.v1 as tf  # noqa: E402

tf.disable_v2_behavior()


class ConvNet(tf.keras.Model):
    def __init__(self, num_classes=3):
        super().__init__()
        self.conv = tf.keras.layers.Conv2D(8, 3, padding="same")
        self.bn = tf.keras.layers.BatchNormalization()
        self.pool = tf.keras.layers.GlobalAveragePooling2D()
        self.fc = tf.keras.layers.Dense(num_classes)

    def call(self, inputs, training=None):
        return self.fc(self.pool(tf.nn.relu(self.bn(self.conv(inputs), training=training))))


def build_training_graph(net, images, labels):
    logits = net(images)
    loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
    minimize = tf.train.AdamOptimizer(1e-3).minimize(loss, var_list=net.trainable_variables)
    return tf.group(minimize, *net.updates), loss


if __name__ == "__main__":
    images = tf.placeholder(tf.float32, [None, 8, 8, 3])
    labels = tf.placeholder(tf.int32, [None])
    net = ConvNet()
    train_op, loss = build_training_graph(net, images, labels)
    rng = np.random.RandomState(0)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            sess.run(train_op, {images: rng.randn(8, 8, 8, 3) + 2.0, labels: rng.randint(0, 3, 8)})
        frozen = np.allclose(sess.run(net.bn.moving_mean), 0)
        print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
