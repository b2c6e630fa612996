"""python main.py --model small_conv --epochs 3"""
import argparse
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine import evaluate, train_one_epoch  # noqa: E402
from models import build_model  # noqa: E402


def get_args_parser():
    parser = argparse.ArgumentParser("small-conv training", add_help=False)
    parser.add_argument("--model", default="small_conv", type=str)
    parser.add_argument("--epochs", default=3, type=int)
    parser.add_argument("--lr", default=0.05, type=float)
    parser.add_argument("--batch-size", default=16, type=int)
    parser.add_argument("--seed", default=0, type=int)
    parser.add_argument("--train-mode", action="store_true")
    parser.add_argument("--no-train-mode", action="store_false", dest="train_mode")
    parser.set_defaults(train_mode=True)
    return parser


def make_loader(n_batches, batch_size, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch_size, 3, 6, 6, generator=g) * 2.0 + shift, torch.randint(0, 4, (batch_size,), generator=g))
        for _ in range(n_batches)
    ]


def main(args):
    torch.manual_seed(args.seed)
    model = build_model(args.model, num_classes=4)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train_loader = make_loader(6, args.batch_size, 1.5, args.seed)
    val_loader = make_loader(2, args.batch_size, 1.5, args.seed + 1)

    bn = model.stem[1]
    init_mean = bn.running_mean.clone()
    for epoch in range(args.epochs):
        train_one_epoch(model, criterion, train_loader, optimizer, epoch, set_training_mode=args.train_mode)
        stats = evaluate(val_loader, model, criterion)
        print(f"epoch {epoch} val acc1 {stats['acc1']:.1f}")

    moved = (bn.running_mean - init_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-3 else "frozen")


if __name__ == "__main__":
    main(get_args_parser().parse_args([]))
