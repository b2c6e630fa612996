"""Sharpness-aware minimisation (SAM) with a hand-written two-step optimizer wrapper
(first_step climbs to w + e(w), second_step restores w and applies the base optimizer). Every
training step runs two forward passes in train mode: one at w and one at the perturbed weights
w + e(w). Nothing pauses BatchNorm's running statistics for the second pass, so each batch is folded
in twice per step, the second time with features computed by the perturbed weights (the
running statistics no longer follow the weights that are actually kept)."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Hyper:
    rho: float = 0.5
    lr: float = 0.05
    steps: int = 8
    batch_size: int = 32
    bn_momentum: float = 0.1


class SAM(torch.optim.Optimizer):
    def __init__(self, params, base_optimizer_cls, rho=0.05, **kwargs):
        defaults = dict(rho=rho, **kwargs)
        super().__init__(params, defaults)
        self.base_optimizer = base_optimizer_cls(self.param_groups, **kwargs)

    @torch.no_grad()
    def _grad_norm(self):
        norms = [p.grad.norm(p=2) for group in self.param_groups for p in group["params"] if p.grad is not None]
        return torch.norm(torch.stack(norms), p=2)

    @torch.no_grad()
    def first_step(self, zero_grad=False):
        scale_base = self._grad_norm() + 1e-12
        for group in self.param_groups:
            scale = group["rho"] / scale_base
            for p in group["params"]:
                if p.grad is None:
                    continue
                e_w = p.grad * scale
                p.add_(e_w)
                self.state[p]["e_w"] = e_w
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad=False):
        for group in self.param_groups:
            for p in group["params"]:
                if "e_w" in self.state[p]:
                    p.sub_(self.state[p]["e_w"])
        self.base_optimizer.step()
        if zero_grad:
            self.zero_grad()


def pause_bn_tracking(model):
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module._saved_momentum = module.momentum
            module.momentum = 0


def resume_bn_tracking(model):
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and hasattr(module, "_saved_momentum"):
            module.momentum = module._saved_momentum


class WideMLP(nn.Module):
    def __init__(self, bn_momentum):
        super().__init__()
        self.stem = nn.Linear(12, 24)
        self.norm = nn.BatchNorm1d(24, momentum=bn_momentum)
        self.head = nn.Linear(24, 4)

    def forward(self, x):
        return self.head(F.relu(self.norm(self.stem(x))))


def sam_update(model, optimizer, x, y):
    model.train()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.first_step(zero_grad=True)
    F.cross_entropy(model(x), y).backward()
    optimizer.second_step(zero_grad=True)
    return loss.item()


def main():
    hp = Hyper()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(hp.steps + 1):
        x = torch.randn(hp.batch_size, 12, generator=gen) * 2.0 + 1.0
        batches.append((x, (x[:, :4].argmax(1))))
    model = WideMLP(hp.bn_momentum)
    optimizer = SAM(model.parameters(), torch.optim.SGD, rho=hp.rho, lr=hp.lr, momentum=0.9)
    for step, (x, y) in enumerate(batches[:-1]):
        loss = sam_update(model, optimizer, x, y)
    print("last loss", round(loss, 4))

    # one more step, checked against a single momentum update with the features of the kept weights
    x, y = batches[-1]
    bn = model.norm
    before_mean, before_var = bn.running_mean.clone(), bn.running_var.clone()
    with torch.no_grad():
        feats = model.stem(x)
    m = hp.bn_momentum
    single_mean = (1 - m) * before_mean + m * feats.mean(0)
    single_var = (1 - m) * before_var + m * feats.var(0, unbiased=True)
    sam_update(model, optimizer, x, y)
    moved = not torch.allclose(bn.running_mean, before_mean)
    single = torch.allclose(bn.running_mean, single_mean, atol=1e-5) and \
        torch.allclose(bn.running_var, single_var, atol=1e-4)
    print("max |running_mean - single update|", float((bn.running_mean - single_mean).abs().max()))
    if not moved:
        behaviour = "frozen"
    elif single:
        behaviour = "updated"
    else:
        behaviour = "double-updated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
