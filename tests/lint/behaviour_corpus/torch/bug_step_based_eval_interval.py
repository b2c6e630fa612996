"""Iteration-based training (no epochs): evaluate every `eval_every` steps, train() only before the loop."""
import itertools

import torch
from torch import nn


def infinite(loader):
    return itertools.cycle(loader)


def evaluate(model, loader):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.mse_loss(model(x), y).item() for x, y in loader)


def train(model, train_loader, val_loader, max_steps=12, eval_every=4):
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    data = infinite(train_loader)
    tracked_at_eval = []
    model.train()
    for step in range(1, max_steps + 1):
        x, y = next(data)
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % eval_every == 0:
            tracked_at_eval.append(int(model[1].num_batches_tracked))
            print(f"step {step} val {evaluate(model, val_loader):.3f}")
    return tracked_at_eval


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.GELU(), nn.Linear(8, 1))
    train_loader = [(torch.randn(16, 3) + 1, torch.randn(16, 1)) for _ in range(5)]
    val_loader = [(torch.randn(16, 3), torch.randn(16, 1))]
    tracked = train(model, train_loader, val_loader)
    print("BN-GROUND-TRUTH:", "stale" if tracked == [4, 4, 4] else "updated")
