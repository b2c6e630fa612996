"""Classic loop: train_one_epoch() calls model.train(), validate() calls model.eval()."""
import argparse

import torch
import torch.nn as nn


def get_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))


def train_one_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def validate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).float().mean().item() for x, y in loader) / len(loader)


if __name__ == "__main__":
    args = argparse.Namespace(epochs=3, lr=0.05)
    torch.manual_seed(0)
    model = get_model()
    model(torch.randn(2, 1, 6, 6))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    loader = [(torch.randn(8, 1, 6, 6) + 1, torch.randint(0, 2, (8,))) for _ in range(2)]
    val_loader = [(torch.randn(8, 1, 6, 6) * 3, torch.randint(0, 2, (8,)))]
    bn = model[1]
    train_updates, val_changes = [], []
    for epoch in range(args.epochs):
        before = bn.running_mean.clone()
        train_one_epoch(model, loader, optimizer)
        train_updates.append(not torch.equal(before, bn.running_mean))
        before = bn.running_mean.clone()
        validate(model, val_loader)
        val_changes.append(not torch.equal(before, bn.running_mean))
    ok = all(train_updates) and not any(val_changes)
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
