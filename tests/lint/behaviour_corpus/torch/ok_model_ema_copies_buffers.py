"""timm-style ModelEma: parameters are averaged, buffers (BN statistics) are copied every step."""
from copy import deepcopy

import torch
import torch.nn as nn


class ModelEma:
    def __init__(self, model, decay=0.99):
        self.ema = deepcopy(model)
        self.ema.eval()
        self.decay = decay
        for p in self.ema.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model):
        msd = model.state_dict()
        for k, ema_v in self.ema.state_dict().items():
            model_v = msd[k].detach()
            if ema_v.dtype.is_floating_point and "running" not in k:
                ema_v.mul_(self.decay).add_(model_v, alpha=1 - self.decay)
            else:
                ema_v.copy_(model_v)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 1))
    ema = ModelEma(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    for _ in range(4):
        opt.zero_grad()
        model(torch.randn(8, 3) + 1.5).sum().backward()
        opt.step()
        ema.update(model)
    with torch.no_grad():
        ema.ema(torch.randn(4, 3))
    tracks = torch.equal(ema.ema[1].running_mean, model[1].running_mean) and not torch.equal(
        model[1].running_mean, torch.zeros(5))
    print("BN-GROUND-TRUTH:", "tracks-live-model" if tracks else "stale")
