"""Trainer whose checkpoint hook evaluates the model (eval mode) and fit() only calls train() once."""
import os
import tempfile

import torch
from torch import nn


class Trainer:
    def __init__(self, model, optimizer, ckpt_dir):
        self.model = model
        self.optimizer = optimizer
        self.ckpt_dir = ckpt_dir
        self.best = float("inf")
        self.loss_fn = nn.MSELoss()

    def evaluate(self, loader):
        self.model.eval()
        with torch.no_grad():
            return sum(self.loss_fn(self.model(x), y).item() for x, y in loader) / len(loader)

    def save_if_best(self, val_loader, epoch):
        val_loss = self.evaluate(val_loader)
        if val_loss < self.best:
            self.best = val_loss
            torch.save({"epoch": epoch, "model": self.model.state_dict()},
                       os.path.join(self.ckpt_dir, "best.pt"))

    def fit(self, train_loader, val_loader, epochs):
        bn = self.model[1]
        tracked = []
        self.model.train()
        for epoch in range(epochs):
            for x, y in train_loader:
                self.optimizer.zero_grad()
                self.loss_fn(self.model(x), y).backward()
                self.optimizer.step()
            tracked.append(int(bn.num_batches_tracked))
            self.save_if_best(val_loader, epoch)
        return tracked


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    train = [(torch.randn(16, 4) + 1, torch.randn(16, 1)) for _ in range(3)]
    val = [(torch.randn(16, 4), torch.randn(16, 1))]
    with tempfile.TemporaryDirectory() as ckpt_dir:
        trainer = Trainer(net, torch.optim.SGD(net.parameters(), lr=0.05), ckpt_dir)
        tracked = trainer.fit(train, val, epochs=3)
    print("BN-GROUND-TRUTH:", "stale" if tracked == [3, 3, 3] else "updated")
