"""TF1 graph-mode script that defines its network as a tf.compat.v1.keras.Model subclass (layers
from tf.compat.v1.keras.layers) called with training=is_training. Keras layers keep their
moving-average updates in layer.updates / model.updates rather than in the UPDATE_OPS collection,
so the train op is built under tf.control_dependencies(net.updates): every training step runs the
BN updates."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.compat.v1.disable_eager_execution()
v1 = tf.compat.v1
KL = v1.keras.layers


class ConvNet(v1.keras.Model):
    def __init__(self, classes=4):
        super().__init__(name="convnet")
        self.conv1 = KL.Conv2D(8, 3, padding="same", use_bias=False)
        self.bn1 = KL.BatchNormalization()
        self.conv2 = KL.Conv2D(8, 3, padding="same", use_bias=False)
        self.bn2 = KL.BatchNormalization()
        self.pool = KL.GlobalAveragePooling2D()
        self.head = KL.Dense(classes)

    def call(self, images, training=False):
        h = tf.nn.relu(self.bn1(self.conv1(images), training=training))
        h = tf.nn.relu(self.bn2(self.conv2(h), training=training))
        return self.head(self.pool(h))


def build_graph(net):
    images = v1.placeholder(tf.float32, [None, 8, 8, 1], name="images")
    labels = v1.placeholder(tf.int64, [None], name="labels")
    is_training = v1.placeholder_with_default(False, [], name="is_training")
    logits = net(images, training=is_training)
    loss = v1.losses.sparse_softmax_cross_entropy(labels, logits)
    update_ops = net.updates
    with tf.control_dependencies(update_ops):
        train_op = v1.train.AdamOptimizer(0.01).minimize(loss)
    return images, labels, is_training, loss, train_op


def main():
    net = ConvNet()
    images, labels, is_training, loss, train_op = build_graph(net)
    rng = np.random.RandomState(7)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        for _ in range(8):
            xb = rng.rand(16, 8, 8, 1) * 4.0 + 1.0
            _, loss_value = sess.run([train_op, loss], {images: xb, labels: rng.randint(0, 4, 16),
                                                        is_training: True})
        print("loss", loss_value)
        means = sess.run([net.bn1.moving_mean, net.bn2.moving_mean])
    print("BN-GROUND-TRUTH:", "frozen" if all(np.allclose(m, 0.0) for m in means) else "updated")


if __name__ == "__main__":
    main()
