"""Template-method trainer: an abstract BaseTrainer owns fit() (model.train() once, then per epoch
train_epoch(), validate(), LR scheduler, best-checkpoint bookkeeping) and leaves train_epoch() /
validate() abstract. The image-classification subclass implements validate() with
self.model.eval() and a train_epoch() that starts with self.model.train(): every optimizer step runs
in train mode and BatchNorm updates its running statistics at each step."""
import abc
import copy

import torch
import torch.nn.functional as F
from torch import nn


class BaseTrainer(abc.ABC):
    def __init__(self, model, optimizer, scheduler=None, epochs=3):
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.epochs = epochs
        self.best_score = float("-inf")
        self.best_state = None
        self.steps = 0

    @abc.abstractmethod
    def train_epoch(self, batches):
        ...

    @abc.abstractmethod
    def validate(self, batches):
        ...

    def fit(self, train_batches, val_batches):
        self.model.train()
        for epoch in range(self.epochs):
            train_loss = self.train_epoch(train_batches)
            score = self.validate(val_batches)
            if self.scheduler is not None:
                self.scheduler.step()
            if score > self.best_score:
                self.best_score = score
                self.best_state = copy.deepcopy(self.model.state_dict())
            print(f"epoch {epoch} loss {train_loss:.3f} score {score:.3f}")
        return self.best_state


class ImageClassificationTrainer(BaseTrainer):
    def train_epoch(self, batches):
        self.model.train()
        total = 0.0
        for images, labels in batches:
            loss = F.cross_entropy(self.model(images), labels)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.steps += 1
            total += loss.item()
        return total / len(batches)

    @torch.no_grad()
    def validate(self, batches):
        self.model.eval()
        correct = total = 0
        for images, labels in batches:
            correct += (self.model(images).argmax(1) == labels).sum().item()
            total += len(labels)
        return correct / total


def make_model(classes=5):
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, classes))


def main():
    torch.manual_seed(0)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    train_batches = [(torch.randn(8, 3, 8, 8) + 1, torch.randint(0, 5, (8,))) for _ in range(3)]
    val_batches = [(torch.randn(8, 3, 8, 8) + 1, torch.randint(0, 5, (8,))) for _ in range(2)]
    trainer = ImageClassificationTrainer(model, optimizer, scheduler, epochs=3)
    trainer.fit(train_batches, val_batches)
    tracked = int(model[1].num_batches_tracked)
    print("BN-GROUND-TRUTH:", "updated" if tracked == trainer.steps else "stale")


if __name__ == "__main__":
    main()
