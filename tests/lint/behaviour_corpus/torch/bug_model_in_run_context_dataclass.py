"""Experiment state kept in a dataclass; evaluate(ctx) flips ctx.model to eval and the loop never flips back."""
from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class RunContext:
    model: nn.Module
    optimizer: torch.optim.Optimizer
    criterion: nn.Module = field(default_factory=nn.MSELoss)
    epoch: int = 0
    best_val: float = float("inf")


def build_regressor(features=6, hidden=16):
    return nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Linear(hidden, 1))


def train_epoch(ctx, batches):
    for inputs, targets in batches:
        ctx.optimizer.zero_grad()
        loss = ctx.criterion(ctx.model(inputs), targets)
        loss.backward()
        ctx.optimizer.step()


def evaluate(ctx, batches):
    ctx.model.eval()
    with torch.no_grad():
        losses = [ctx.criterion(ctx.model(x), y).item() for x, y in batches]
    val = sum(losses) / len(losses)
    ctx.best_val = min(ctx.best_val, val)
    return val


def run(ctx, train_batches, val_batches, epochs, bn):
    changed = []
    ctx.model.train()
    for ctx.epoch in range(epochs):
        before = bn.running_mean.clone()
        train_epoch(ctx, train_batches)
        changed.append(not torch.equal(before, bn.running_mean))
        evaluate(ctx, val_batches)
    return changed


if __name__ == "__main__":
    torch.manual_seed(0)
    net = build_regressor()
    ctx = RunContext(model=net, optimizer=torch.optim.Adam(net.parameters(), lr=1e-2))
    train_batches = [(torch.randn(16, 6) * 2 + 1, torch.randn(16, 1)) for _ in range(3)]
    val_batches = [(torch.randn(16, 6), torch.randn(16, 1))]
    changed = run(ctx, train_batches, val_batches, 3, net[1])
    print("BN-GROUND-TRUTH:", "stale" if changed[0] and not any(changed[1:]) else "updated")
