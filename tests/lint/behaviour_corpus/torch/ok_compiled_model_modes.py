"""torch.compile'd model: train()/eval() are called on the compiled wrapper, which forwards them to
the original module (the BN buffers are shared)."""
import argparse

import torch
from torch import nn


class SmallResNet(nn.Module):
    def __init__(self, width=8, classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(x + self.block(x))
        return self.head(x.mean(dim=(2, 3)))


def train_one_epoch(model, batches, optimizer):
    model.train()
    for images, labels in batches:
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()


@torch.no_grad()
def evaluate(model, batches):
    model.eval()
    hits = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    return hits / sum(len(y) for _, y in batches)


def main():
    parser = argparse.ArgumentParser()
    # the eager backend keeps the example fast on machines without a C++ toolchain for inductor
    parser.add_argument("--backend", default="eager")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args([])
    torch.manual_seed(0)
    model = SmallResNet()
    compiled = torch.compile(model, backend=args.backend)
    optimizer = torch.optim.SGD(compiled.parameters(), lr=0.05, momentum=0.9)
    train_batches = [(torch.randn(8, 3, 8, 8) + 1.0, torch.randint(0, 4, (8,))) for _ in range(2)]
    val_batches = [(torch.randn(8, 3, 8, 8) - 3.0, torch.randint(0, 4, (8,)))]
    bn = model.stem[1]
    changed, val_untouched = [], []
    for _ in range(args.epochs):
        before = bn.running_mean.clone()
        train_one_epoch(compiled, train_batches, optimizer)
        changed.append(not torch.equal(before, bn.running_mean))
        after_train = bn.running_mean.clone()
        evaluate(compiled, val_batches)
        val_untouched.append(torch.equal(after_train, bn.running_mean))
    print("BN-GROUND-TRUTH:", "updated" if all(changed) and all(val_untouched) else "broken")


if __name__ == "__main__":
    main()
