"""Iteration-based trainer with a MetricsLogger hook: every `log_every` steps the hook measures a
held-out loss and switches the model to inference with model.train(mode=False). The trainer put the
model in training mode once, before the step loop, so after the first log every later step trains
with BatchNorm frozen on its running statistics."""
import argparse
import itertools
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class TrainConfig:
    max_steps: int = 12
    log_every: int = 3
    lr: float = 3e-3
    batch_size: int = 16


class TabularNet(nn.Module):
    def __init__(self, in_features=6, hidden=16):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.SiLU())
        self.out = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.out(self.body(x))


class MetricsLogger:
    """Logs the held-out loss next to the training loss."""

    def __init__(self, holdout, log_every):
        self.holdout = holdout
        self.log_every = log_every
        self.history = []

    def on_step_end(self, step, model, train_loss):
        if step % self.log_every:
            return
        model.train(mode=False)
        with torch.no_grad():
            holdout_loss = sum(nn.functional.mse_loss(model(x), y).item() for x, y in self.holdout)
        self.history.append((step, train_loss, holdout_loss))
        print(f"step {step:3d} train {train_loss:.3f} holdout {holdout_loss:.3f}")


class StepTrainer:
    def __init__(self, model, cfg, hooks=()):
        self.model = model
        self.cfg = cfg
        self.hooks = list(hooks)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def run(self, loader):
        batches = itertools.cycle(loader)
        self.model.train()
        for step in range(1, self.cfg.max_steps + 1):
            x, y = next(batches)
            loss = nn.functional.mse_loss(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            for hook in self.hooks:
                hook.on_step_end(step, self.model, loss.item())


def make_data(n_batches, batch_size, shift):
    return [(torch.randn(batch_size, 6) + shift, torch.randn(batch_size, 1)) for _ in range(n_batches)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-steps", type=int, default=TrainConfig.max_steps)
    args = parser.parse_args([])
    torch.manual_seed(0)
    cfg = TrainConfig(max_steps=args.max_steps)
    model = TabularNet()
    logger = MetricsLogger(make_data(1, cfg.batch_size, 0.0), cfg.log_every)
    trainer = StepTrainer(model, cfg, hooks=[logger])
    trainer.run(make_data(4, cfg.batch_size, 2.0))
    tracked = int(model.body[1].num_batches_tracked)
    # 12 steps; the first log after step 3 freezes the statistics for the remaining 9
    print("BN-GROUND-TRUTH:", "stale" if tracked == cfg.log_every else "updated")


if __name__ == "__main__":
    main()
