"""SWA fine-tuning script. Every SWA epoch folds the live weights into the average and then recomputes
the averaged model's BatchNorm statistics with update_bn(), so the evaluated/saved average carries
statistics of its own weights."""
import argparse
import copy

import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn


def parse_args():
    parser = argparse.ArgumentParser(description="tabular MLP with stochastic weight averaging")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--swa-start", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--swa-lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args()


class TabularNet(nn.Module):
    def __init__(self, in_features=10, hidden=32, classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.body(x))


def make_loader(n_batches, batch_size, generator):
    loader = []
    for _ in range(n_batches):
        x = torch.randn(batch_size, 10, generator=generator) * 2 + 1
        loader.append((x, (x[:, 0] > 1).long() + (x[:, 1] > 2).long()))
    return loader


def train_one_epoch(model, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    hits = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return hits / sum(len(y) for _, y in loader)


def main():
    args = parse_args()
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    train_loader, val_loader = make_loader(6, 32, gen), make_loader(2, 32, gen)
    model = TabularNet()
    swa_model = AveragedModel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.swa_start)
    swa_scheduler = SWALR(optimizer, swa_lr=args.swa_lr, anneal_epochs=1)

    for epoch in range(args.epochs):
        train_one_epoch(model, train_loader, optimizer)
        if epoch >= args.swa_start:
            swa_model.update_parameters(model)
            update_bn(train_loader, swa_model)
            swa_scheduler.step()
        else:
            scheduler.step()
        print(f"epoch {epoch} val acc {accuracy(model, val_loader):.3f}")

    print(f"swa val acc {accuracy(swa_model, val_loader):.3f}")
    torch.save(swa_model.module.state_dict(), "/dev/null")

    # ground truth: the statistics the averaged weights really produce on the training data
    reference = copy.deepcopy(swa_model)
    update_bn(train_loader, reference)
    bn = swa_model.module.body[1]
    ref_bn = reference.module.body[1]
    gap = (bn.running_mean - ref_bn.running_mean).abs().max().item()
    print("max running_mean gap to recomputed:", gap)
    print("BN-GROUND-TRUTH:", "stale" if gap > 1e-3 else "recomputed")


if __name__ == "__main__":
    main()
