"""validate() switches BN to inference with model.train(False); the loop set train() once, before the epochs."""
import argparse

import torch
from torch import nn


class SmallNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Linear(6, classes)

    def forward(self, x):
        return self.classifier(self.features(x))


@torch.no_grad()
def validate(net, loader, criterion):
    net.train(False)
    losses = [criterion(net(x), y).item() for x, y in loader]
    return sum(losses) / len(losses)


def parse_args():
    parser = argparse.ArgumentParser(description="toy MNIST-like trainer")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    return parser.parse_args([])


def main():
    args = parse_args()
    torch.manual_seed(0)
    net = SmallNet()
    optimizer = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    train_loader = [(torch.randn(8, 1, 6, 6) + 2, torch.randint(0, 3, (8,))) for _ in range(4)]
    val_loader = [(torch.randn(8, 1, 6, 6), torch.randint(0, 3, (8,))) for _ in range(2)]
    bn = net.features[1]
    updated_per_epoch = []
    net.train()
    for epoch in range(args.epochs):
        seen = int(bn.num_batches_tracked)
        for x, y in train_loader:
            optimizer.zero_grad()
            criterion(net(x), y).backward()
            optimizer.step()
        updated_per_epoch.append(int(bn.num_batches_tracked) > seen)
        print(f"epoch {epoch} val_loss {validate(net, val_loader, criterion):.3f}")
    stale = updated_per_epoch[0] and not any(updated_per_epoch[1:])
    print("BN-GROUND-TRUTH:", "stale" if stale else "updated")


if __name__ == "__main__":
    main()
