"""train_one_epoch / evaluate, the loop pieces train.py drives."""
import torch
from torch import nn


def train_one_epoch(model, loader, optimizer, epoch, log_every=4):
    criterion = nn.CrossEntropyLoss()
    for step, (x, y) in enumerate(loader):
        loss = criterion(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % log_every == 0:
            print(f"epoch {epoch} step {step} loss {loss.item():.4f}")


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += (model(x).argmax(1) == y).sum().item()
        total += y.numel()
    return correct / total
