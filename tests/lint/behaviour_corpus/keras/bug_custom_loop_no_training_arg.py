"""Custom GradientTape loop that calls the model without training=True."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402


class ConvNet(keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(4, 3)
        self.bn = keras.layers.BatchNormalization()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.out = keras.layers.Dense(3)

    def call(self, x, training=None):
        return self.out(self.pool(tf.nn.relu(self.bn(self.conv(x), training=training))))


def fit(net, dataset, epochs=2, lr=1e-2):
    opt = keras.optimizers.Adam(lr)
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    for _ in range(epochs):
        for images, labels in dataset:
            with tf.GradientTape() as tape:
                loss = ce(labels, net(images))
            grads = tape.gradient(loss, net.trainable_weights)
            opt.apply_gradients(zip(grads, net.trainable_weights))


if __name__ == "__main__":
    rng = np.random.default_rng(1)
    ds = tf.data.Dataset.from_tensor_slices((rng.normal(1.0, 1.0, (16, 6, 6, 2)).astype("float32"),
                                             rng.integers(0, 3, 16))).batch(8)
    net = ConvNet()
    net(np.zeros((1, 6, 6, 2), "float32"))
    start = np.array(net.bn.moving_mean)
    fit(net, ds)
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(start, net.bn.moving_mean) else "updated")
