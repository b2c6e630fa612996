"""ImageNet-style main loop with DDP boilerplate: `model.train()` sits inside the
`if args.distributed:` block next to `train_sampler.set_epoch(epoch)`, and evaluate() switches to
eval mode every epoch. Run single-process (the default), the model trains in eval mode from the
second epoch on: the BatchNorm running statistics stop following the training data."""
import argparse

import torch
from torch import nn


def get_args(argv=()):
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--distributed", action="store_true")
    return parser.parse_args(list(argv))


def make_model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))


def train_one_epoch(model, loader, criterion, optimizer):
    for images, target in loader:
        loss = criterion(model(images), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def evaluate(model, loader, criterion):
    model.eval()
    with torch.no_grad():
        return sum(criterion(model(images), target).item() for images, target in loader)


class EpochSampler:
    def set_epoch(self, epoch):
        self.epoch = epoch


def main():
    args = get_args()
    torch.manual_seed(0)
    model = make_model()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train_sampler = EpochSampler() if args.distributed else None
    train_loader = [(torch.randn(8, 3, 8, 8) + 1.5, torch.randint(0, 10, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 3, 8, 8), torch.randint(0, 10, (8,)))]
    bn = model[1]
    moved = []
    for epoch in range(args.epochs):
        if args.distributed:
            train_sampler.set_epoch(epoch)
            model.train()
        before = bn.running_mean.clone()
        train_one_epoch(model, train_loader, criterion, optimizer)
        moved.append(not torch.allclose(before, bn.running_mean))
        evaluate(model, val_loader, criterion)
    print("BN-GROUND-TRUTH:", "stale" if moved[0] and not all(moved[1:]) else "updated")


if __name__ == "__main__":
    main()
