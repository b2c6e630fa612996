"""python train.py --epochs 4"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build_model  # noqa: E402
from trainer import Trainer  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-features", type=int, default=10)
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--n-classes", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--val-every", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def synthetic_split(n_batches, args, seed):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        x = torch.randn(16, args.n_features, generator=gen) + 1.0
        y = (x[:, :args.n_classes].argmax(1))
        out.append((x, y))
    return out


def main():
    args = parse_args([])
    torch.manual_seed(args.seed)
    model = build_model(args)
    trainer = Trainer(model, synthetic_split(3, args, 1), synthetic_split(1, args, 2), args)

    bn = model.body[1]
    moved = []

    def track_running_mean(tr, epoch, last=[bn.running_mean.clone()]):
        moved.append(not torch.equal(last[0], bn.running_mean))
        last[0] = bn.running_mean.clone()

    trainer.on_epoch_end.append(track_running_mean)
    trainer.fit()
    stale = moved[0] and not any(moved[1:])
    print("BN-GROUND-TRUTH:", "stale" if stale else ("updated" if all(moved) else "frozen"))


if __name__ == "__main__":
    main()
