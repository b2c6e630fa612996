"""python main.py --epochs 3"""
import argparse

import torch

import engine
from models import build


def get_args_parser():
    parser = argparse.ArgumentParser("contrastive classifier", add_help=False)
    parser.add_argument("--lr", default=0.05, type=float)
    parser.add_argument("--epochs", default=3, type=int)
    parser.add_argument("--n_in", default=12, type=int)
    parser.add_argument("--dim", default=16, type=int)
    parser.add_argument("--num_classes", default=3, type=int)
    parser.add_argument("--con_coef", default=0.5, type=float)
    parser.add_argument("--clip_max_norm", default=0.1, type=float)
    parser.add_argument("--seed", default=42, type=int)
    return parser


def main(args):
    torch.manual_seed(args.seed)
    model, criterion = build(args)
    param_dicts = [{"params": [p for p in model.parameters() if p.requires_grad]},
                   {"params": [p for p in criterion.parameters() if p.requires_grad]}]
    optimizer = torch.optim.SGD(param_dicts, lr=args.lr, momentum=0.9)
    g = torch.Generator().manual_seed(args.seed)
    def loader(n, shift):
        return [(torch.randn(16, args.n_in, generator=g) + shift,
                 torch.randint(0, args.num_classes, (16,), generator=g)) for _ in range(n)]
    train_loader, val_loader = loader(4, 1.0), loader(2, 1.0)
    bn = criterion.projector[1]
    counts = []
    for epoch in range(args.epochs):
        before = int(bn.num_batches_tracked)
        train_stats = engine.train_one_epoch(model, criterion, train_loader, optimizer, epoch, args.clip_max_norm)
        counts.append(int(bn.num_batches_tracked) - before)
        test_stats = engine.evaluate(model, criterion, val_loader)
        print(f"epoch {epoch} train {train_stats['loss']:.3f} val ce {test_stats['loss_ce']:.3f}")
    print("projector BN updates per epoch:", counts)
    if all(c == len(train_loader) for c in counts):
        verdict = "updated"
    elif counts[0] == len(train_loader) and not any(counts[1:]):
        verdict = "stale"
    else:
        verdict = "frozen" if not any(counts) else "partial"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main(get_args_parser().parse_args())
