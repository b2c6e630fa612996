"""Image classifier: validate() switches to eval and the epoch loop never switches back."""
import argparse

import torch
from torch import nn


def build_model(width):
    return nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 4))


def validate(model, batches):
    model.eval()
    correct = 0
    with torch.no_grad():
        for images, labels in batches:
            correct += (model(images).argmax(1) == labels).sum().item()
    return correct


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    args = parser.parse_args([])
    torch.manual_seed(0)
    model = build_model(8)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    criterion = nn.CrossEntropyLoss()
    train_batches = [(torch.randn(8, 3, 8, 8) + 1.0, torch.randint(0, 4, (8,))) for _ in range(3)]
    val_batches = [(torch.randn(8, 3, 8, 8), torch.randint(0, 4, (8,)))]
    bn = model[1]
    model.train()
    history = []
    for epoch in range(args.epochs):
        before = bn.running_mean.clone()
        for images, labels in train_batches:
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
        history.append(not torch.equal(before, bn.running_mean))
        validate(model, val_batches)
    # epoch 0 updates the statistics, later epochs run in eval mode
    print("BN-GROUND-TRUTH:", "stale" if history[0] and not any(history[1:]) else "updated")


if __name__ == "__main__":
    main()
