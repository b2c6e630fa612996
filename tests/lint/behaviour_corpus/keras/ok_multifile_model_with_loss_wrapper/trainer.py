"""Trainer: owns the optimizer and the ModelWithLoss wrapper; train()/validate() per epoch."""
import numpy as np
import tensorflow as tf
import keras

from losses import ModelWithLoss


class Trainer:
    def __init__(self, model, cfg):
        self.model = model
        self.model_with_loss = ModelWithLoss(model, label_smoothing=cfg["label_smoothing"])
        self.optimizer = keras.optimizers.SGD(cfg["lr"], momentum=0.9)

    @tf.function
    def train_step(self, images, labels):
        with tf.GradientTape() as tape:
            loss, _ = self.model_with_loss(images, labels, training=True)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return loss

    @tf.function
    def val_step(self, images, labels):
        return self.model_with_loss(images, labels, training=False)

    def train(self, epoch, loader):
        losses = [float(self.train_step(images, labels)) for images, labels in loader]
        print(f"[epoch {epoch}] train loss {np.mean(losses):.4f}")

    def validate(self, loader):
        correct = seen = 0
        for images, labels in loader:
            _, logits = self.val_step(images, labels)
            correct += int(np.sum(np.argmax(logits.numpy(), -1) == labels))
            seen += len(labels)
        return correct / seen
