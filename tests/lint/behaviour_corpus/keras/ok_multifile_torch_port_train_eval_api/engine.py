"""train_one_epoch() / evaluate() -- same structure as the PyTorch engine this project started from."""
import numpy as np
import tensorflow as tf


def train_one_epoch(model, criterion, optimizer, loader, epoch, print_freq=4):
    model.train()
    for step, (images, targets) in enumerate(loader):
        with tf.GradientTape() as tape:
            outputs = model(images)
            loss = criterion(targets, outputs)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        if step % print_freq == 0:
            print(f"Epoch: [{epoch}] [{step}/{len(loader)}] loss: {float(loss):.4f}")


def evaluate(model, criterion, loader):
    model.eval()
    losses, correct, total = [], 0, 0
    for images, targets in loader:
        outputs = model(images)
        losses.append(float(criterion(targets, outputs)))
        correct += int(np.sum(np.argmax(np.asarray(outputs), -1) == targets))
        total += len(targets)
    return {"loss": float(np.mean(losses)), "acc1": correct / total}
