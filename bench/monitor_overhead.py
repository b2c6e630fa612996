"""Overhead of bnguard.torch.Monitor on the step time of a small CNN on CPU.

Plain training vs the same training with a Monitor (forward hooks on every BN layer, an optimizer
step hook, a record every ``--every`` steps to a JSON-lines log). Runs are interleaved and
repeated; the median per-step time of each is compared. Target: < 2% at every=100.

    .venv/bin/python bench/monitor_overhead.py [--steps 300] [--repeats 5] [--every 100]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
from torch import nn

from bnguard.torch import Monitor


def small_cnn():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10),
    )


def run(steps: int, monitored: bool, every: int) -> float:
    model = small_cnn()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(32, 3, 32, 32)
    y = torch.randint(0, 10, (32,))
    loss_fn = nn.CrossEntropyLoss()
    with tempfile.TemporaryDirectory() as d:
        mon = Monitor(model, opt, logdir=d, every=every, on_alert="record") if monitored else None
        t0 = time.process_time()
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            loss_fn(model(x), y).backward()
            opt.step()
        elapsed = time.process_time() - t0
        if mon is not None:
            mon.close()
    return elapsed / steps


def direct_cost(every: int, n: int = 20000) -> float:
    """CPU seconds per training step spent in the Monitor itself: its forward hooks, pre-hooks and
    step bookkeeping, called exactly as one training step calls them (records amortised)."""
    model = small_cnn()
    mon = Monitor(model, None, every=every, on_alert="record")
    layers = [st.module for st in mon._layers]
    pre, post = mon._pre_hook, [mon._make_hook(st) for st in mon._layers]
    x = torch.zeros(1)
    for m in layers:
        m.train()
    t0 = time.process_time()
    for _ in range(n):
        for m, hook in zip(layers, post):
            pre(m, (x,))
            hook(m, (x,), x)
        mon.step()
    elapsed = time.process_time() - t0
    mon.close()
    return elapsed / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--every", type=int, default=100)
    args = ap.parse_args()
    torch.set_num_threads(1)  # stable CPU time on a shared 2-core machine
    run(20, True, args.every)  # warm-up
    plain, monitored = [], []
    for _ in range(args.repeats):
        plain.append(run(args.steps, False, args.every))
        monitored.append(run(args.steps, True, args.every))
    print(f"small CNN, batch 32x3x32x32, {args.steps} steps x {args.repeats} interleaved repeats, 1 thread, "
          "process CPU time per step")
    for label, stat in (("median", statistics.median), ("fastest", min)):
        p, m = stat(plain), stat(monitored)
        print(f"{label:8s} plain {p * 1e3:7.3f} ms   with Monitor(every={args.every}) {m * 1e3:7.3f} ms   "
              f"ratio {m / p:.4f} ({(m / p - 1) * 100:+.2f}%)  target < +2%")
    d = direct_cost(args.every)
    p = statistics.median(plain)
    print(f"direct: the Monitor's own work costs {d * 1e6:.1f} us per step = {d / p * 100:.3f}% of the median "
          f"plain step (end-to-end differences above are machine noise when they straddle 0)")


if __name__ == "__main__":
    main()
