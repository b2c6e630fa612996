"""train_one_epoch / evaluate, shared by train.py and the evaluation scripts."""
import numpy as np
import tensorflow as tf


def compute_loss(model, images, labels, criterion, training=True):
    logits = model(images, training=training)
    return criterion(labels, logits), logits


def train_one_epoch(model, optimizer, criterion, loader, epoch):
    losses = []
    for step, (images, labels) in enumerate(loader):
        with tf.GradientTape() as tape:
            loss, _ = compute_loss(model, images, labels, criterion)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    print(f"[epoch {epoch}] train loss {np.mean(losses):.4f}")
    return float(np.mean(losses))


def evaluate(model, criterion, loader):
    losses, correct, seen = [], 0, 0
    for images, labels in loader:
        loss, logits = compute_loss(model, images, labels, criterion, training=False)
        losses.append(float(loss))
        correct += int(np.sum(np.argmax(np.asarray(logits), -1) == labels))
        seen += len(labels)
    return {"loss": float(np.mean(losses)), "acc": correct / seen}
