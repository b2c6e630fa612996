"""Segmentation trainer for Keras 3 with the forward pass split across helpers:
train_step -> compute_loss(images, masks, training=None) -> forward(images, training=None) -> model.
The helpers mirror Keras' own `call(self, x, training=None)` signature, but train_step never passes
training=True, so the model is called with training=None outside fit(): BatchNormalization runs in
inference mode and its moving statistics never move."""
import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import layers  # noqa: E402


def build_unet_lite(size=16, width=8):
    inputs = keras.Input((size, size, 1))
    x = layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = layers.BatchNormalization(name="enc_bn")(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(width, 3, padding="same")(x)
    x = layers.UpSampling2D()(x)
    outputs = layers.Conv2D(1, 1)(x)
    return keras.Model(inputs, outputs, name="unet_lite")


class SegmentationTrainer:
    def __init__(self, model, learning_rate):
        self.model = model
        self.optimizer = keras.optimizers.Adam(learning_rate)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
        self.val_iou = keras.metrics.BinaryIoU(target_class_ids=[1], threshold=0.0)

    def forward(self, images, training=None):
        return self.model(images, training=training)

    def compute_loss(self, images, masks, training=None):
        logits = self.forward(images, training=training)
        return self.loss_fn(masks, logits), logits

    @tf.function
    def train_step(self, images, masks):
        with tf.GradientTape() as tape:
            loss, _ = self.compute_loss(images, masks)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    @tf.function
    def validation_step(self, images, masks):
        loss, logits = self.compute_loss(images, masks, training=False)
        self.val_iou.update_state(masks, logits)
        return loss

    def fit(self, train_ds, val_ds, epochs):
        for epoch in range(epochs):
            for images, masks in train_ds:
                loss = self.train_step(images, masks)
            self.val_iou.reset_state()
            for images, masks in val_ds:
                self.validation_step(images, masks)
            print(f"epoch {epoch} loss {float(loss):.3f} val IoU {float(self.val_iou.result()):.3f}")


def make_dataset(n, rng):
    images = rng.normal(1.5, 1.0, (n, 16, 16, 1)).astype("float32")
    masks = (images > 1.5).astype("float32")
    return tf.data.Dataset.from_tensor_slices((images, masks)).batch(8)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=1e-2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    model = build_unet_lite()
    trainer = SegmentationTrainer(model, args.lr)
    trainer.fit(make_dataset(32, rng), make_dataset(16, rng), args.epochs)
    moving_mean = model.get_layer("enc_bn").moving_mean.numpy()
    print("BN-GROUND-TRUTH:", "frozen" if np.allclose(moving_mean, 0.0) else "updated")


if __name__ == "__main__":
    main()
