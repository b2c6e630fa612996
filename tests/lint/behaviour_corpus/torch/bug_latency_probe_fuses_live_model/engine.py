"""train_one_epoch / evaluate in the usual engine.py layout."""
import torch


def train_one_epoch(model, loader, optimizer, criterion):
    model.train()
    total = 0.0
    for images, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(images), targets)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / sum(len(y) for _, y in loader)
