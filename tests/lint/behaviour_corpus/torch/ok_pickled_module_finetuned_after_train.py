"""Two-stage script: pretrain() trains on the source domain, reports validation accuracy (eval())
and pickles the whole module with torch.save(model, path). finetune() reloads it with torch.load
(which keeps the pickled eval flags) and calls model.train() before its optimizer steps, so the
BatchNorm statistics adapt to the target domain."""
import os
import tempfile

import torch
from torch import nn

CFG = {"pretrain_epochs": 3, "finetune_epochs": 3, "batch_size": 16, "lr": 0.05}


def make_domain(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g) + shift
    return x, (x[:, 0] - x[:, 1] > 0).long()


def batches(x, y, bs):
    for i in range(0, len(x), bs):
        yield x[i:i + bs], y[i:i + bs]


def build_net():
    return nn.Sequential(nn.Linear(6, 20), nn.BatchNorm1d(20), nn.ReLU(), nn.Linear(20, 2))


@torch.no_grad()
def evaluate(model, x, y):
    model.eval()
    return (model(x).argmax(1) == y).float().mean().item()


def pretrain(path):
    model = build_net()
    opt = torch.optim.SGD(model.parameters(), lr=CFG["lr"], momentum=0.9)
    x, y = make_domain(128, 0.0, seed=1)
    vx, vy = make_domain(64, 0.0, seed=2)
    for epoch in range(CFG["pretrain_epochs"]):
        model.train()
        for xb, yb in batches(x, y, CFG["batch_size"]):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
        print(f"pretrain epoch {epoch} val acc {evaluate(model, vx, vy):.3f}")
    torch.save(model, path)


def finetune(path):
    model = torch.load(path, weights_only=False)
    opt = torch.optim.SGD(model.parameters(), lr=CFG["lr"] / 5, momentum=0.9)
    x, y = make_domain(96, 3.0, seed=3)
    bn = model[1]
    source_mean = bn.running_mean.clone()
    for _ in range(CFG["finetune_epochs"]):
        model.train()
        for xb, yb in batches(x, y, CFG["batch_size"]):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xb), yb).backward()
            opt.step()
    moved = not torch.allclose(bn.running_mean, source_mean)
    return moved


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "source_model.pt")
        pretrain(path)
        moved = finetune(path)
    print("BN-GROUND-TRUTH:", "updated" if moved else "frozen")


if __name__ == "__main__":
    main()
