"""python train.py --epochs 3 --arch resmlp"""
import argparse

import torch

from engine import evaluate, train_one_epoch
from models import build_model
from utils import make_loader, model_summary


def get_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--arch", default="resmlp")
    p.add_argument("--in-features", type=int, default=12)
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--num-classes", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(args):
    torch.manual_seed(args.seed)
    model = build_model(args)
    print(model_summary(model, (args.in_features,)))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train_loader = make_loader(args.seed, 6, 32, args.in_features, args.num_classes)
    val_loader = make_loader(args.seed + 1, 2, 32, args.in_features, args.num_classes)
    for epoch in range(args.epochs):
        train_one_epoch(model, train_loader, optimizer, epoch)
    print("val acc", evaluate(model, val_loader))

    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    tracked = sum(int(bn.num_batches_tracked) for bn in bns)
    moved = max((bn.running_mean.abs().max().item() for bn in bns))
    print("BN-GROUND-TRUTH:", "updated" if tracked > 0 and moved > 1e-3 else "frozen")


if __name__ == "__main__":
    main(get_args())
