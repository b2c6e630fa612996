"""Custom Keras 3 loop adapted from the transfer-learning guide: features = backbone(x, training=False)
was kept although the backbone is now built from scratch (weights=None) and trained (its variables
are in the gradient). Its BatchNormalization runs in inference mode and never updates."""
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402

CONFIG = {"weights": None, "image_size": 8, "num_classes": 3, "lr": 1e-3, "epochs": 2}


def make_backbone(image_size, weights=None):
    inputs = keras.Input((image_size, image_size, 3))
    x = layers.Conv2D(8, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="backbone_bn")(x)
    x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    backbone = keras.Model(inputs, x, name="backbone")
    if weights is not None:
        backbone.load_weights(weights)
    return backbone


class Classifier:
    def __init__(self, cfg):
        self.backbone = make_backbone(cfg["image_size"], cfg["weights"])
        self.head = layers.Dense(cfg["num_classes"])
        self.head.build((None, 8))
        self.optimizer = keras.optimizers.Adam(cfg["lr"])
        self.loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @property
    def variables(self):
        return self.backbone.trainable_variables + self.head.trainable_variables

    @tf.function
    def train_step(self, images, labels):
        with tf.GradientTape() as tape:
            features = self.backbone(images, training=False)
            logits = self.head(features)
            loss = self.loss_fn(labels, logits)
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return loss


def main():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    images = (rng.normal(size=(48, 8, 8, 3)) + 1.0).astype("float32")
    labels = rng.integers(0, 3, size=(48,))
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(16)
    clf = Classifier(CONFIG)
    kernel_before = clf.backbone.layers[1].kernel.numpy().copy()
    for epoch in range(CONFIG["epochs"]):
        for x, y in ds:
            loss = clf.train_step(x, y)
        print("epoch", epoch, float(loss))
    trained = not np.allclose(kernel_before, clf.backbone.layers[1].kernel.numpy())
    mean = clf.backbone.get_layer("backbone_bn").moving_mean.numpy()
    print("BN-GROUND-TRUTH:", "frozen" if trained and np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
