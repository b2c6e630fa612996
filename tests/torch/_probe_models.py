"""Small real models for the torch run-time tests (a ResNet-style net written for the tests)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1, momentum: float | None = 0.1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout, momentum=momentum)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout, momentum=momentum)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout, momentum=momentum))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class TinyResNet(nn.Module):
    """Stem + two residual stages + a BatchNorm1d head: 6 BN layers."""

    def __init__(self, num_classes: int = 4, momentum: float | None = 0.1,
                 checkpointing: str | None = None):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(8, momentum=momentum), nn.ReLU())
        self.layer1 = BasicBlock(8, 8, momentum=momentum)
        self.layer2 = BasicBlock(8, 16, stride=2, momentum=momentum)
        self.head_bn = nn.BatchNorm1d(16, momentum=momentum)
        self.fc = nn.Linear(16, num_classes)
        self.checkpointing = checkpointing  # None, "reentrant" or "non-reentrant"

    def forward(self, x):
        x = self.stem(x)
        if self.checkpointing is None:
            x = self.layer2(self.layer1(x))
        else:
            reentrant = self.checkpointing == "reentrant"
            x = checkpoint(self.layer1, x, use_reentrant=reentrant)
            x = checkpoint(self.layer2, x, use_reentrant=reentrant)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.head_bn(x))


BN_NAMES = ["stem.1", "layer1.bn1", "layer1.bn2", "layer2.bn1", "layer2.bn2",
            "layer2.shortcut.1", "head_bn"]


def make_batch(seed: int = 0, n: int = 8):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g) * 2 + 0.5
    y = torch.randint(0, 4, (n,), generator=g)
    return x, y


def train_step_fn(model, optimizer, batch):
    """One ordinary training iteration, as a user's loop writes it."""
    x, y = batch

    def step():
        model.train()
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step
