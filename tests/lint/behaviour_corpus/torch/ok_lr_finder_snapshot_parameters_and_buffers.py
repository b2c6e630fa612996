"""Kaggle-style script with a hand-written LR range test. LRSweep snapshots parameters AND buffers
(`[*model.parameters(), *model.buffers()]`) and copies them back after the sweep, which runs the
model in train mode up to lr=10 until the loss explodes: the BatchNorm running statistics and
num_batches_tracked are rolled back with the weights before the real training."""
import math

import torch
from torch import nn

CFG = {"seed": 0, "min_lr": 1e-4, "max_lr": 10.0, "sweep_steps": 20, "epochs": 2, "batch_size": 32}


class LRSweep:
    def __init__(self, model, loss_fn, make_opt):
        self.model = model
        self.loss_fn = loss_fn
        self.make_opt = make_opt

    def _snapshot(self):
        return [t.detach().clone() for t in [*self.model.parameters(), *self.model.buffers()]]

    @torch.no_grad()
    def _restore(self, saved):
        for t, s in zip([*self.model.parameters(), *self.model.buffers()], saved):
            t.copy_(s)

    def run(self, batches, min_lr, max_lr, steps):
        saved = self._snapshot()
        opt = self.make_opt(self.model.parameters(), min_lr)
        ratio = (max_lr / min_lr) ** (1.0 / (steps - 1))
        history, best = [], float("inf")
        self.model.train()
        for i in range(steps):
            lr = min_lr * ratio ** i
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = batches[i % len(batches)]
            opt.zero_grad()
            loss = self.loss_fn(self.model(x), y)
            loss.backward()
            opt.step()
            value = loss.item()
            history.append((lr, value))
            best = min(best, value)
            if not math.isfinite(value) or value > 4 * best:
                break
        self._restore(saved)
        return history


def pick_lr(history):
    lrs, losses = zip(*history)
    drops = [losses[i + 1] - losses[i] for i in range(len(losses) - 1)]
    return lrs[min(range(len(drops)), key=drops.__getitem__)] / 10


def main():
    torch.manual_seed(CFG["seed"])
    gen = torch.Generator().manual_seed(CFG["seed"])
    w_true = torch.randn(10, 3, generator=gen)
    def batch():
        x = torch.randn(CFG["batch_size"], 10, generator=gen) * 2 + 1
        return x, (x @ w_true).argmax(1)
    train_batches = [batch() for _ in range(4)]
    valid_batches = [batch() for _ in range(2)]
    model = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 3))
    loss_fn = nn.CrossEntropyLoss()
    make_opt = lambda params, lr: torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    bn = model[1]
    before = torch.cat([bn.running_mean, bn.running_var]).clone()
    history = LRSweep(model, loss_fn, make_opt).run(train_batches, CFG["min_lr"], CFG["max_lr"], CFG["sweep_steps"])
    lr = pick_lr(history) if len(history) > 2 else 1e-2
    after = torch.cat([bn.running_mean, bn.running_var])
    carried = not torch.allclose(before, after) or int(bn.num_batches_tracked) != 0
    print(f"sweep stopped after {len(history)} steps, picked lr {lr:.4g}, running var max {bn.running_var.max().item():.3g}")
    opt = make_opt(model.parameters(), lr)
    for epoch in range(CFG["epochs"]):
        model.train()
        for x, y in train_batches:
            opt.zero_grad()
            loss_fn(model(x), y).backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(x).argmax(1) == y).float().mean().item() for x, y in valid_batches) / 2
        print(f"epoch {epoch} valid acc {acc:.3f}")
    with torch.no_grad():
        feats = torch.cat([model[0](x) for x, _ in train_batches])
    true_mean, true_var = feats.mean(0), feats.var(0)
    finite = bool(torch.isfinite(bn.running_mean).all() and torch.isfinite(bn.running_var).all())
    ratio = (bn.running_var / true_var).max().item() if finite else float("inf")
    mean_err = ((bn.running_mean - true_mean).abs() / true_var.sqrt()).max().item() if finite else float("inf")
    print(f"num_batches_tracked {int(bn.num_batches_tracked)} var ratio {ratio:.3g} mean err {mean_err:.3g}")
    steps = CFG["epochs"] * len(train_batches)
    trained = int(bn.num_batches_tracked) >= steps and finite
    print("BN-GROUND-TRUTH:", "contaminated" if carried or not finite else "updated" if trained else "frozen")


if __name__ == "__main__":
    main()
