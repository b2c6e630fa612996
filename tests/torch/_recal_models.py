"""Small real models and a float64 reference for the recalibration tests (shared with the
2-process test, which imports this file in spawned workers)."""
from __future__ import annotations

import torch
from torch import nn


class SmallNet(nn.Module):
    """conv-BN-ReLU x2 with Dropout between, a residual-free head after the last BN."""

    def __init__(self, dropout: float = 0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, stride=2)
        self.bn2 = nn.BatchNorm2d(16)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(16 * 8 * 8, 10))
        self.head_calls = 0

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.drop(x)
        x = torch.relu(self.bn2(self.conv2(x)))
        self.head_calls += 1
        return self.head(x)


def make_batches(n_batches: int = 6, batch: int = 8, offset: float = 0.0, scale: float = 1.0,
                 non_iid: bool = True, seed: int = 0):
    """(images, labels) batches; with ``non_iid`` each batch has its own offset (sorted order)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for b in range(n_batches):
        shift = (b - n_batches / 2) * 0.5 if non_iid else 0.0
        x = torch.randn(batch, 3, 16, 16, generator=g) * scale + offset + shift * scale
        out.append((x, torch.randint(0, 10, (batch,), generator=g)))
    return out


def reference_stats(model: nn.Module, batches, unbiased: bool = False):
    """Exact float64 mean/var of every BN input, with only BN layers in train mode (the
    activations recalibration sees), computed by materialising all inputs. Leaves ``model`` as
    it was."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    modes = {m: m.training for m in model.modules()}
    bns = {n: m for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)}
    seen: dict[str, list[torch.Tensor]] = {n: [] for n in bns}
    hooks = []
    for n, m in bns.items():
        hooks.append(m.register_forward_hook(
            lambda mod, inp, out, n=n: seen[n].append(inp[0].detach().double()
                                                      .transpose(0, 1).reshape(inp[0].shape[1], -1))))
    model.eval()
    for m in bns.values():
        m.train()
    with torch.no_grad():
        for x, _ in batches:
            model(x)
    for h in hooks:
        h.remove()
    model.load_state_dict(state)
    for m, t in modes.items():
        m.training = t
    out = {}
    for n, parts in seen.items():
        if parts:
            a = torch.cat(parts, dim=1)
            out[n] = (a.mean(1), a.var(1, unbiased=unbiased))
    return out


def max_rel_errors(model: nn.Module, ref) -> tuple[float, float]:
    """Max relative error of running mean (scaled by max(|mean|, std)) and running var."""
    em = ev = 0.0
    for n, m in model.named_modules():
        if n in ref:
            mean, var = ref[n]
            scale = torch.maximum(mean.abs(), var.sqrt())
            em = max(em, ((m.running_mean.double() - mean).abs() / scale).max().item())
            ev = max(ev, ((m.running_var.double() - var).abs() / var).max().item())
    return em, ev
