"""Tabular classifier script: one run_epoch(model, batches, mode, optimizer) for every split; it
switches the module mode from the mode string it receives."""
import argparse

import torch
from torch import nn


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="tabular baseline")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


class TabularNet(nn.Module):
    def __init__(self, d_in=6, hidden=16, n_out=2):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(), nn.Dropout(0.1))
        self.head = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.head(self.body(x))


def make_batches(x, y, batch_size):
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def run_epoch(model, batches, mode, optimizer=None):
    if mode == "train":
        model.train()
    elif mode == "valid":
        model.eval()
    criterion = nn.CrossEntropyLoss()
    total, count = 0.0, 0
    with torch.set_grad_enabled(mode == "train"):
        for xb, yb in batches:
            loss = criterion(model(xb), yb)
            if mode == "train":
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total += loss.item() * len(xb)
            count += len(xb)
    return total / count


def main(args):
    torch.manual_seed(args.seed)
    x_train = torch.randn(96, 6) + 2.0
    y_train = (x_train[:, 0] > 2.0).long()
    x_val = torch.randn(48, 6) - 4.0
    y_val = (x_val[:, 0] > -4.0).long()
    train_batches = make_batches(x_train, y_train, args.batch_size)
    val_batches = make_batches(x_val, y_val, args.batch_size)

    model = TabularNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    bn = model.body[1]
    trained_moves, val_moves = [], []
    for epoch in range(args.epochs):
        before = bn.running_mean.clone()
        train_loss = run_epoch(model, train_batches, "train", optimizer)
        after_train = bn.running_mean.clone()
        val_loss = run_epoch(model, val_batches, "valid")
        trained_moves.append(not torch.allclose(before, after_train))
        val_moves.append(not torch.allclose(after_train, bn.running_mean))
        print(f"epoch {epoch}: train {train_loss:.3f} val {val_loss:.3f}")
    if any(val_moves):
        verdict = "contaminated"
    elif all(trained_moves):
        verdict = "updated"
    else:
        verdict = "broken"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main(get_args([]))
