"""Step-based training written as a generator: iterate_training() switches the network to train
mode when it starts, then yields after every optimizer step so that the caller can log, validate and
decide when to stop. The caller's periodic validate() calls net.eval(); when the generator resumes
it goes on with the next optimizer step without switching back."""
import itertools
import math

import torch
from torch import nn
from torch.nn import functional as F

CONFIG = {"total_steps": 12, "eval_every": 4, "lr": 0.05, "warmup": 3, "batch_size": 16}


class TabularNet(nn.Module):
    def __init__(self, n_in=8, hidden=12, n_out=3):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.GELU())
        self.classifier = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.classifier(self.encoder(x))


def warmup_cosine(step, warmup, total):
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def iterate_training(net, optimizer, scheduler, batches):
    net.train()
    for step, (x, y) in enumerate(itertools.cycle(batches), start=1):
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        yield step, loss.item()


def validate(net, batches):
    net.eval()
    total, correct = 0, 0
    with torch.no_grad():
        for x, y in batches:
            correct += (net(x).argmax(-1) == y).sum().item()
            total += y.numel()
    return correct / total


def make_batches(n_batches, shift, seed, bs):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        x = torch.randn(bs, 8, generator=g) * 1.5 + shift
        out.append((x, (x[:, :3].sum(1) > 3 * shift).long() + (x[:, 3] > shift).long()))
    return out


def main(cfg=CONFIG):
    torch.manual_seed(0)
    net = TabularNet()
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg["lr"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, cfg["warmup"], cfg["total_steps"]))
    train_batches = make_batches(3, 2.0, 1, cfg["batch_size"])
    val_batches = make_batches(2, 0.0, 2, cfg["batch_size"])
    norm = net.encoder[1]
    history = []
    for step, loss in iterate_training(net, optimizer, scheduler, train_batches):
        if step % cfg["eval_every"] == 0:
            history.append((step, loss, validate(net, val_batches)))
        if step >= cfg["total_steps"]:
            break
    for step, loss, acc in history:
        print(f"step {step:3d} loss {loss:.3f} val acc {acc:.3f}")
    tracked = int(norm.num_batches_tracked)
    if tracked == cfg["total_steps"]:
        verdict = "updated"
    elif tracked == cfg["eval_every"]:
        verdict = "stale"
    else:
        verdict = f"partial-{tracked}-of-{cfg['total_steps']}"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
