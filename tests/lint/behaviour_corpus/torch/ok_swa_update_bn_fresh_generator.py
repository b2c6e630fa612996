"""SWA on a streaming pipeline: batches come from a generator built per epoch (shuffled by seed).
After the loop, update_bn() gets a freshly built generator over the training set, so the averaged
model's BN statistics are recomputed for the averaged weights before evaluation."""
import argparse

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--swa-start", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=0.1)
    return p.parse_args([])


def make_dataset(n=96, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g) * 1.5 + 2.0
    y = (x[:, :3].sum(1) > 6).long()
    return x, y


def iterate_minibatches(x, y, batch_size, seed):
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]
        yield x[idx], y[idx]


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(8, 24), nn.BatchNorm1d(24), nn.ReLU())
        self.classifier = nn.Linear(24, 2)

    def forward(self, x):
        return self.classifier(self.features(x))


def train_epoch(model, batches, optimizer):
    model.train()
    for xb, yb in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(xb), yb).backward()
        optimizer.step()


def main():
    args = get_args()
    torch.manual_seed(0)
    x, y = make_dataset()
    model = Regressor()
    swa_model = AveragedModel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    swa_scheduler = SWALR(optimizer, swa_lr=0.05, anneal_epochs=1)
    for epoch in range(args.epochs):
        train_iter = iterate_minibatches(x, y, args.batch_size, seed=epoch)
        train_epoch(model, train_iter, optimizer)
        if epoch >= args.swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
    update_bn(iterate_minibatches(x, y, args.batch_size, seed=args.epochs), swa_model)
    swa_model.eval()
    bn = swa_model.module.features[1]
    with torch.no_grad():
        acc = (swa_model(x).argmax(1) == y).float().mean().item()
    print(f"swa accuracy {acc:.3f}")
    at_init = torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean)) and \
        torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    print("BN-GROUND-TRUTH:", "reset" if at_init else "recomputed")


if __name__ == "__main__":
    main()
