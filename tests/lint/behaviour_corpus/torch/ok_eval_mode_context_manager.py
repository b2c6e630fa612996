"""Validation through an eval_mode() context manager that restores the previous mode on exit."""
from contextlib import contextmanager

import torch
from torch import nn


@contextmanager
def eval_mode(module):
    previous = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(previous)


def run_validation(model, batches):
    with eval_mode(model), torch.no_grad():
        return [model(x).mean().item() for x in batches]


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    updated = []
    for epoch in range(3):
        before = model[1].running_mean.clone()
        for _ in range(2):
            opt.zero_grad()
            model(torch.randn(8, 3) + 1).pow(2).mean().backward()
            opt.step()
        updated.append(not torch.equal(before, model[1].running_mean))
        run_validation(model, [torch.randn(8, 3) * 5])
    print("BN-GROUND-TRUTH:", "updated" if all(updated) else "stale")
