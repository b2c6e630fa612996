"""python main.py - trains, evaluates in eval mode (set here), goes back to train."""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from metrics import mean_abs_error  # noqa: E402


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    train_batches = [(torch.randn(8, 3) + 1, torch.randn(8, 1)) for _ in range(2)]
    val_batches = [(torch.randn(8, 3) * 6, torch.randn(8, 1))]
    contaminated = False
    for epoch in range(2):
        model.train()
        for x, y in train_batches:
            opt.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            opt.step()
        model.eval()
        before = model[1].running_mean.clone()
        print("val mae", mean_abs_error(model, val_batches))
        contaminated |= not torch.equal(before, model[1].running_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if contaminated else "updated")


if __name__ == "__main__":
    main()
