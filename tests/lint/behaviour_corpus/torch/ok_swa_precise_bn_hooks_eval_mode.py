"""SWA fine-tuning with a hand-written precise-BN pass instead of swa_utils.update_bn. The helper
runs the averaged model in eval mode on purpose: forward hooks capture what each BatchNorm layer
receives and the population mean/variance are written into its buffers, one layer at a time (a
layer's input only depends on the layers before it, which are already recalibrated)."""
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
    """Re-estimate BN statistics of an averaged model on the training data (precise BN)."""
    model.eval()
    bn_layers = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for bn in bn_layers:
        inputs = []
        handle = bn.register_forward_hook(lambda m, inp, out: inputs.append(inp[0]))
        for images, _ in loader:
            model(images)
        handle.remove()
        x = torch.cat(inputs).transpose(0, 1).flatten(1)
        bn.running_mean.copy_(x.mean(1))
        bn.running_var.copy_(x.var(1))
        bn.num_batches_tracked.add_(len(loader))


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
