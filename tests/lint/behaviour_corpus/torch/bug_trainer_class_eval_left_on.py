"""A small Trainer class: evaluate() sets eval mode, fit() never sets train mode again."""
from dataclasses import dataclass

import torch
from torch import nn, optim


@dataclass
class TrainConfig:
    epochs: int = 3
    lr: float = 0.01


class Trainer:
    def __init__(self, model, cfg):
        self.model = model
        self.cfg = cfg
        self.optimizer = optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
        self.loss_fn = nn.CrossEntropyLoss()

    def evaluate(self, batches):
        self.model.eval()
        with torch.no_grad():
            return sum(self.loss_fn(self.model(x), y).item() for x, y in batches)

    def fit(self, train_batches, val_batches, bn):
        self.model.train()
        changed = []
        for epoch in range(self.cfg.epochs):
            before = bn.running_var.clone()
            for x, y in train_batches:
                self.optimizer.zero_grad()
                self.loss_fn(self.model(x), y).backward()
                self.optimizer.step()
            changed.append(not torch.equal(before, bn.running_var))
            self.evaluate(val_batches)
        return changed


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(7, 9), nn.BatchNorm1d(9), nn.ReLU(), nn.Linear(9, 3))
    data = [(torch.randn(10, 7) * 2, torch.randint(0, 3, (10,))) for _ in range(2)]
    changed = Trainer(net, TrainConfig()).fit(data, data[:1], net[1])
    print("BN-GROUND-TRUTH:", "stale" if changed[0] and not any(changed[1:]) else "updated")
