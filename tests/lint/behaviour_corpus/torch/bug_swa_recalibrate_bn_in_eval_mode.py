"""SWA fine-tuning with a hand-written `recalibrate_bn()` instead of swa_utils.update_bn. The
helper resets the running statistics and switches to cumulative averaging (momentum=None), but it
starts with model.eval() "so nothing is trained": in eval mode BatchNorm only reads its buffers, so
the averaged model is evaluated with the reset 0/1 statistics."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, SWALR


@dataclass
class SWAConfig:
    epochs: int = 4
    swa_start: int = 2
    lr: float = 0.05
    swa_lr: float = 0.02


def make_model():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3),
    )


@torch.no_grad()
def recalibrate_bn(model, loader):
    """Re-estimate BN statistics of an averaged model on the training data."""
    model.eval()
    momenta = {}
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
            module.momentum = None
    for images, _ in loader:
        model(images)
    for module, momentum in momenta.items():
        module.momentum = momentum


@torch.no_grad()
def population_stats(model, bn, loader):
    """Mean/var over the whole loader of what `bn` receives in an eval-mode forward."""
    captured = []
    handle = bn.register_forward_hook(lambda m, inp, out: captured.append(inp[0].detach()))
    was_training = model.training
    model.eval()
    for images, _ in loader:
        model(images)
    model.train(was_training)
    handle.remove()
    x = torch.cat(captured).transpose(0, 1).flatten(1)
    return x.mean(1), x.var(1)


def main():
    torch.manual_seed(0)
    cfg = SWAConfig()
    loader = [(torch.randn(16, 3, 6, 6) * 1.5 + 2.0, torch.randint(0, 3, (16,))) for _ in range(4)]
    model = make_model()
    swa_model = AveragedModel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
    swa_scheduler = SWALR(optimizer, swa_lr=cfg.swa_lr)
    for epoch in range(cfg.epochs):
        model.train()
        for images, labels in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
        if epoch >= cfg.swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
    recalibrate_bn(swa_model, loader)
    bn = swa_model.module[1]
    mean, var = population_stats(swa_model, bn, loader)
    if torch.allclose(bn.running_mean, torch.zeros(8)) and torch.allclose(bn.running_var, torch.ones(8)):
        behaviour = "frozen"
    elif torch.allclose(bn.running_mean, mean, atol=1e-3) and torch.allclose(bn.running_var, var, rtol=0.05):
        behaviour = "recomputed"
    else:
        behaviour = "stale"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
