"""evaluate() was copied from train_epoch() and still starts with model.train(): validation batches
run in train mode under no_grad and their statistics leak into the BN running averages."""
import argparse

import torch
from torch import nn


def make_model(in_ch=1, classes=2):
    return nn.Sequential(nn.Conv2d(in_ch, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, classes))


def train_epoch(model, batches, optimizer, criterion):
    model.train()
    running = 0.0
    for images, labels in batches:
        optimizer.zero_grad()
        loss = criterion(model(images), labels)
        loss.backward()
        optimizer.step()
        running += loss.item()
    return running / len(batches)


def evaluate(model, batches, criterion):
    model.train()
    running = 0.0
    with torch.no_grad():
        for images, labels in batches:
            running += criterion(model(images), labels).item()
    return running / len(batches)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args([])
    torch.manual_seed(0)
    model = make_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    criterion = nn.CrossEntropyLoss()
    train_batches = [(torch.randn(8, 1, 8, 8), torch.randint(0, 2, (8,))) for _ in range(3)]
    val_batches = [(torch.randn(8, 1, 8, 8) + 6.0, torch.randint(0, 2, (8,)))]
    bn = model[1]
    contaminated = False
    for _ in range(args.epochs):
        train_epoch(model, train_batches, optimizer, criterion)
        before = bn.running_mean.clone()
        evaluate(model, val_batches, criterion)
        contaminated |= not torch.equal(before, bn.running_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if contaminated else "clean")


if __name__ == "__main__":
    main()
