"""EMA of the weights (AveragedModel with an EMA multi_avg_fn, buffers NOT averaged) whose BN
statistics are re-estimated at the end with fvcore's PreciseBN (update_bn_stats) on training
batches - not with torch's update_bn. The EMA model is evaluated with statistics that belong to
its own averaged weights."""
import itertools

import torch
import torch.nn.functional as F
from fvcore.nn.precise_bn import update_bn_stats
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def build_model():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3))


def train(model, ema, loader, epochs, lr=0.05):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            ema.update_parameters(model)


def recompute_bn(model, loader, num_iters):
    model.train()
    update_bn_stats(model, itertools.cycle(x for x, _ in loader), num_iters=num_iters)
    model.eval()


def main():
    torch.manual_seed(0)
    model = build_model()
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9))
    loader = [(torch.randn(8, 3, 6, 6) + 1.5, torch.randint(0, 3, (8,))) for _ in range(4)]
    train(model, ema, loader, epochs=2)
    recompute_bn(ema, loader, num_iters=len(loader))
    with torch.no_grad():
        feats = torch.cat([ema.module[0](x) for x, _ in loader])
    target = feats.mean(dim=(0, 2, 3))
    gap = (ema.module[1].running_mean - target).abs().max().item()
    print("BN-GROUND-TRUTH:", "recalibrated" if gap < 1e-3 else "stale")


if __name__ == "__main__":
    main()
