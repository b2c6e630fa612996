"""Trainer class whose validate() forgets self.model.eval() (no_grad only)."""
import torch
from torch import nn


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=lr)
        self.criterion = nn.CrossEntropyLoss()

    def train_epoch(self, loader):
        self.model.train()
        for x, y in loader:
            self.opt.zero_grad()
            self.criterion(self.model(x), y).backward()
            self.opt.step()

    @torch.no_grad()
    def validate(self, loader):
        correct = 0
        for x, y in loader:
            correct += (self.model(x).argmax(1) == y).sum().item()
        return correct


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 3))
    trainer = Trainer(model)
    train_loader = [(torch.randn(8, 5), torch.randint(0, 3, (8,))) for _ in range(2)]
    val_loader = [(torch.randn(8, 5) * 4 + 3, torch.randint(0, 3, (8,)))]
    contaminated = False
    for epoch in range(2):
        trainer.train_epoch(train_loader)
        before = model[1].running_mean.clone()
        trainer.validate(val_loader)
        contaminated |= not torch.equal(before, model[1].running_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if contaminated else "updated")
