"""Trainer with an epoch-end callback list; the validation callback restores the mode it found."""
import argparse

import torch
from torch import nn


class Callback:
    def on_epoch_end(self, trainer, epoch):
        pass


class ValidationCallback(Callback):
    """Computes validation accuracy at the end of every epoch."""

    def __init__(self, batches):
        self.batches = batches
        self.history = []

    def on_epoch_end(self, trainer, epoch):
        was_training = trainer.model.training
        trainer.model.eval()
        correct = total = 0
        with torch.no_grad():
            for images, labels in self.batches:
                correct += (trainer.model(images).argmax(1) == labels).sum().item()
                total += len(labels)
        self.history.append(correct / total)
        trainer.model.train(was_training)


class LRLogger(Callback):
    def on_epoch_end(self, trainer, epoch):
        trainer.lrs.append(trainer.optimizer.param_groups[0]["lr"])


class Trainer:
    def __init__(self, model, optimizer, callbacks):
        self.model = model
        self.optimizer = optimizer
        self.callbacks = list(callbacks)
        self.criterion = nn.CrossEntropyLoss()
        self.lrs = []

    def fit(self, batches, epochs, bn):
        changed = []
        self.model.train()
        for epoch in range(epochs):
            before = bn.running_mean.clone()
            for images, labels in batches:
                self.optimizer.zero_grad()
                self.criterion(self.model(images), labels).backward()
                self.optimizer.step()
            changed.append(not torch.equal(before, bn.running_mean))
            for callback in self.callbacks:
                callback.on_epoch_end(self, epoch)
        return changed


def make_model(width=8, classes=3):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, classes))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args([])
    torch.manual_seed(0)
    model = make_model()
    train_batches = [(torch.randn(8, 3, 8, 8) + 1.5, torch.randint(0, 3, (8,))) for _ in range(3)]
    val_batches = [(torch.randn(8, 3, 8, 8), torch.randint(0, 3, (8,)))]
    trainer = Trainer(model, torch.optim.SGD(model.parameters(), lr=0.05),
                      [LRLogger(), ValidationCallback(val_batches)])
    changed = trainer.fit(train_batches, args.epochs, model[1])
    print("BN-GROUND-TRUTH:", "updated" if all(changed) else "stale")


if __name__ == "__main__":
    main()
