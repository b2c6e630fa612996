"""TF1 code moved to a TF2 tf.keras custom loop: the forward pass keeps
training=tf.keras.backend.learning_phase(), which nothing sets any more (no K.set_learning_phase, no
feed dict). It is 0, so the GradientTape step runs BatchNormalization in inference mode and the moving
statistics never move."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

K = tf.keras.backend
FLAGS = {"lr": 0.01, "epochs": 2, "batch_size": 16}


def conv_block(x, filters):
    x = tf.keras.layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
    x = tf.keras.layers.BatchNormalization(name=f"bn_{filters}")(x)
    return tf.keras.layers.ReLU()(x)


def build_classifier(num_classes=3):
    inputs = tf.keras.Input((8, 8, 1))
    x = conv_block(inputs, 4)
    x = conv_block(x, 8)
    x = tf.keras.layers.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inputs, tf.keras.layers.Dense(num_classes)(x))


class Trainer:
    def __init__(self, model, lr):
        self.model = model
        self.optimizer = tf.keras.optimizers.SGD(lr, momentum=0.9)
        self.loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(self, images, labels):
        with tf.GradientTape() as tape:
            logits = self.model(images, training=K.learning_phase())
            loss = self.loss_fn(labels, logits)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    def fit(self, dataset, epochs):
        for epoch in range(epochs):
            for images, labels in dataset:
                loss = self.train_step(images, labels)
            print("epoch", epoch, "loss", float(loss))


def main():
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 8, 8, 1)) + 2.0).astype("float32")
    y = rng.integers(0, 3, size=(64,))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(FLAGS["batch_size"])
    model = build_classifier()
    Trainer(model, FLAGS["lr"]).fit(dataset, FLAGS["epochs"])
    mean = model.get_layer("bn_4").moving_mean.numpy()
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
