"""python train.py -- SyncBN training (one process here), then the single-device evaluation script path."""
import argparse
import copy
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from evaluate import evaluate_single_device  # noqa: E402
from models import build_model  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--no-sync-bn", dest="sync_bn", action="store_false")
    return p.parse_args([])


def main():
    args = parse_args()
    cfg = {"in_ch": 3, "width": 6, "num_classes": 3, "sync_bn": args.sync_bn}
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    loader = [(torch.randn(16, 3, 6, 6, generator=gen) * 2 + 3, torch.randint(0, 3, (16,), generator=gen))
              for _ in range(4)]
    model = build_model(cfg)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    criterion = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        print(f"epoch {epoch} done")
    trained_bn = model.block[1]
    trained_mean = trained_bn.running_mean.clone()
    trained_var = trained_bn.running_var.clone()
    deployed, acc = evaluate_single_device(copy.deepcopy(model), loader)
    bn = deployed.block[1]
    print(f"{type(trained_bn).__name__} -> {type(bn).__name__}, single-device acc {acc:.3f}")
    print("trained running_mean", trained_mean.numpy().round(3), "deployed", bn.running_mean.numpy().round(3))
    at_init = torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean)) and \
        torch.allclose(bn.running_var, torch.ones_like(bn.running_var))
    same = torch.allclose(bn.running_mean, trained_mean) and torch.allclose(bn.running_var, trained_var)
    trained = not torch.allclose(trained_mean, torch.zeros_like(trained_mean))
    if trained and same:
        verdict = "updated"
    elif trained and at_init:
        verdict = "init-stats-at-eval"
    else:
        verdict = "broken"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
