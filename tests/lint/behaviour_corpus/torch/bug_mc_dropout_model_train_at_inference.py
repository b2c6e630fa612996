"""Regression with MC-dropout uncertainty. predict_with_uncertainty() switches the whole model to
train() so that Dropout stays active over the stochastic passes - which also puts BatchNorm in
training mode: under no_grad every MC pass folds the (shifted) test batch into the running
statistics that the model uses for every later prediction."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


class Regressor(nn.Module):
    def __init__(self, in_dim=6, hidden=16, p=0.2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(p))
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.head(self.body(x)).squeeze(1)


def train_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()


@torch.no_grad()
def predict_with_uncertainty(model, x, samples=10):
    model.train()  # keep dropout active for Monte-Carlo sampling
    preds = torch.stack([model(x) for _ in range(samples)])
    return preds.mean(0), preds.std(0)


def parse_args():
    parser = argparse.ArgumentParser(description="MC-dropout regressor")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--mc-samples", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-2)
    return parser.parse_args()


def main():
    args = parse_args()
    torch.manual_seed(0)
    model = Regressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = [(torch.randn(16, 6), torch.randn(16)) for _ in range(4)]
    for _ in range(args.epochs):
        train_epoch(model, loader, optimizer)
    trained_mean = model.body[1].running_mean.clone()
    test_x = torch.randn(32, 6) * 3 + 5
    mean, std = predict_with_uncertainty(model, test_x, args.mc_samples)
    print(f"prediction {mean.mean():.3f} +- {std.mean():.3f}")
    moved = not torch.allclose(model.body[1].running_mean, trained_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if moved else "updated")


if __name__ == "__main__":
    main()
