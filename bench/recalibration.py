"""BN recalibration side by side: bnguard.torch.recalibrate, fvcore PreciseBN, torch update_bn.

One run, same model weights and the same batches for every method:

* ``floor``      a train-mode ``no_grad`` forward of the batches (what any method must at least do);
* ``bnguard``    ``bnguard.torch.recalibrate(model, batches)`` (population estimator);
* ``fvcore``     ``fvcore.nn.update_bn_stats`` set up as its docs require: the caller puts the BN
                 layers (only them) in train mode, ``num_iters = number of batches``;
* ``update_bn``  ``torch.optim.swa_utils.update_bn(batches, model)``.

Accuracy: max relative error of every BN layer's running mean (|d mean| / max(|mean|, std)) and
running variance against a float64 reference: the exact mean and variance (divided by the count)
of each BN input, with BN in train mode and everything else in eval mode, computed by casting
each input to float64 and merging exact per-batch moments (Chan).

Time: process CPU time with one torch thread (the machine is shared; CPU time is the stable
number), methods interleaved, ``--repeats`` times. ``x floor``: median of the per-repeat ratios to
the floor; ``min/min``: fastest run over fastest floor run (noise only ever adds time).

Cases: normal inputs and inputs with mean/std = 1000 (the first BN normalises the raw images),
iid and non-iid batch orders (images sorted by their offset), on a ResNet-20-style net, and on the
same net with Dropout in the blocks and a classifier head after the last BN.

    .venv/bin/python bench/recalibration.py [--batches 40] [--batch-size 64] [--repeats 3]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import time

import torch
from torch import nn
from torch.optim.swa_utils import update_bn

from bnguard.torch import recalibrate


class Block(nn.Module):
    def __init__(self, cin, cout, stride, dropout):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.drop = nn.Dropout2d(dropout) if dropout else nn.Identity()
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = None
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.drop(torch.relu(self.b1(self.c1(x))))
        out = self.b2(self.c2(out))
        return torch.relu(out + (x if self.short is None else self.short(x)))


class ResNet20(nn.Module):
    """ResNet-20-style: input BN on raw images, stem, 9 basic blocks (16/32/64), 23 BN layers.

    ``head=True`` adds Dropout in the blocks and a large classifier after the last BN."""

    def __init__(self, head: bool = False):
        super().__init__()
        self.input_bn = nn.BatchNorm2d(3)
        self.stem = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(Block(cin, cout, stride if i == 0 else 1, 0.2 if head else 0.0))
                cin = cout
        self.layers = nn.Sequential(*blocks)
        if head:
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 8 * 8, 1024), nn.ReLU(),
                                      nn.Dropout(0.5), nn.Linear(1024, 1024), nn.ReLU(),
                                      nn.Dropout(0.5), nn.Linear(1024, 100))
        else:
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))

    def forward(self, x):
        return self.head(self.layers(torch.relu(self.bn(self.stem(self.input_bn(x))))))


def make_data(n_batches, batch_size, big_mean, non_iid, seed=0):
    g = torch.Generator().manual_seed(seed)
    n = n_batches * batch_size
    offsets = torch.randn(n, 1, 1, 1, generator=g) * 0.7
    channel_means = torch.tensor([0.5, -0.3, 0.1]).view(1, 3, 1, 1)
    x = torch.randn(n, 3, 32, 32, generator=g) + offsets + channel_means
    if big_mean:
        x = x * 1.0 + 1000.0  # mean/std = 1000 at the input BN
    if non_iid:
        x = x[offsets.flatten().argsort()]
    y = torch.randint(0, 10, (n,), generator=g)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def train_a_little(model, steps=20):
    torch.manual_seed(1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(steps):
        x = torch.randn(32, 3, 32, 32) + torch.randn(32, 1, 1, 1) * 0.7
        y = torch.randint(0, 10, (32,))
        loss = nn.functional.cross_entropy(model(x)[:, :10], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def bn_modules(model):
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]


def float64_reference(model, batches):
    """Exact per-channel mean and variance of each BN input (float64, Chan merge of exact batch
    moments), BN in train mode, everything else in eval mode."""
    model = copy.deepcopy(model)
    acc = {}

    def hook(name):
        def f(mod, inp, out):
            x = inp[0].detach().double().transpose(0, 1).reshape(inp[0].shape[1], -1)
            n = x.shape[1]
            mean = x.mean(1)
            m2 = ((x - mean[:, None]) ** 2).sum(1)
            if name not in acc:
                acc[name] = [float(n), mean, m2]
                return
            na, ma, m2a = acc[name]
            tot = na + n
            d = mean - ma
            acc[name] = [tot, ma + d * n / tot, m2a + m2 + d * d * na * n / tot]
        return f

    model.eval()
    hooks = []
    for name, m in bn_modules(model):
        m.train()
        hooks.append(m.register_forward_hook(hook(name)))
    with torch.no_grad():
        for x, _ in batches:
            model(x)
    return {k: (mean, m2 / n) for k, (n, mean, m2) in acc.items()}


def errors(model, ref):
    em = ev = 0.0
    for name, m in bn_modules(model):
        mean, var = ref[name]
        scale = torch.maximum(mean.abs(), var.sqrt())
        em = max(em, ((m.running_mean.double() - mean).abs() / scale).max().item())
        ev = max(ev, ((m.running_var.double() - var).abs() / var).max().item())
    return em, ev


def run_floor(model, batches):
    model.train()
    with torch.no_grad():
        for x, _ in batches:
            model(x)


def run_bnguard(model, batches):
    recalibrate(model, batches, progress=False)


def run_fvcore(model, batches):
    from fvcore.nn import update_bn_stats

    model.eval()  # as its docs require: the caller sets the BN layers (only) to train mode
    for _, m in bn_modules(model):
        m.train()
    # its loader must yield the model's input itself (it calls model(item))
    update_bn_stats(model, [x for x, _ in batches], num_iters=len(batches))


def run_update_bn(model, batches):
    update_bn(batches, model)


METHODS = {"floor": run_floor, "bnguard": run_bnguard, "fvcore": run_fvcore,
           "update_bn": run_update_bn}


def bench_case(base, batches, repeats):
    ref = float64_reference(base, batches)
    times = {k: [] for k in METHODS}
    errs = {}
    for _ in range(repeats):
        for name, fn in METHODS.items():
            model = copy.deepcopy(base)
            t0 = time.process_time()
            fn(model, batches)
            times[name].append(time.process_time() - t0)
            if name != "floor":
                errs[name] = errors(model, ref)
    rows = {}
    for name in METHODS:
        ratios = [t / f for t, f in zip(times[name], times["floor"])]
        rows[name] = {"cpu_s": statistics.median(times[name]), "ratio": statistics.median(ratios),
                      "min_ratio": min(times[name]) / min(times["floor"]),
                      "ratios": ratios, "mean_err": errs.get(name, (None, None))[0],
                      "var_err": errs.get(name, (None, None))[1]}
    return rows


def fmt(v):
    return "-" if v is None else f"{v:.2e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)  # same initial weights in every run

    cases = [("resnet20", False, False, False), ("resnet20", False, True, False),
             ("resnet20", True, False, False), ("resnet20", True, True, False),
             ("resnet20+dropout+head", False, False, True),
             ("resnet20+dropout+head", True, True, True)]
    models = {False: train_a_little(ResNet20(head=False)), True: train_a_little(ResNet20(head=True))}
    print(f"torch {torch.__version__}, {args.threads} thread(s), {args.batches} batches x "
          f"{args.batch_size} x 3x32x32, {args.repeats} repeats, CPU time medians\n")
    print(f"{'model':<22} {'input':<13} {'order':<7} {'method':<10} {'CPU s':>7} {'x floor':>8} "
          f"{'min/min':>8} {'mean err':>9} {'var err':>9}")
    results = []
    for model_name, big, non_iid, head in cases:
        batches = make_data(args.batches, args.batch_size, big, non_iid)
        rows = bench_case(models[head], batches, args.repeats)
        for method, r in rows.items():
            print(f"{model_name:<22} {'mean/std=1000' if big else 'normal':<13} "
                  f"{'non-iid' if non_iid else 'iid':<7} {method:<10} {r['cpu_s']:>7.2f} "
                  f"{r['ratio']:>8.3f} {r['min_ratio']:>8.3f} {fmt(r['mean_err']):>9} "
                  f"{fmt(r['var_err']):>9}")
            results.append({"model": model_name, "mean_std_1000": big, "non_iid": non_iid,
                            "method": method, **r})
        print()
    bn = [r for r in results if r["method"] == "bnguard"]
    worst_err = max(max(r["mean_err"], r["var_err"]) for r in bn)
    print(f"bnguard worst error {worst_err:.2e} (target <= 1e-6); time vs floor "
          f"{min(r['ratio'] for r in bn):.3f}..{max(r['ratio'] for r in bn):.3f} (target <= 1.05)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
