"""Training / evaluation helpers shared by the scripts of this project."""
import torch


def train_one_epoch(model, loader, optimizer, criterion):
    for inputs, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(inputs), targets)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def evaluate(model, loader, criterion):
    model.eval()
    losses = [criterion(model(inputs), targets).item() for inputs, targets in loader]
    return sum(losses) / len(losses)
