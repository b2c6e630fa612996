"""Hand-written EMA of the weights (parameters only); the EMA model is evaluated with its stale BN buffers."""
import copy

import torch
from torch import nn


class EMA:
    def __init__(self, model, decay=0.9):
        self.shadow = copy.deepcopy(model).eval()
        self.decay = decay

    @torch.no_grad()
    def step(self, model):
        for ema_p, p in zip(self.shadow.parameters(), model.parameters()):
            ema_p.mul_(self.decay).add_(p.detach(), alpha=1 - self.decay)


def evaluate(model, batches):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.mse_loss(model(x), y).item() for x, y in batches)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))
    ema = EMA(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    data = [(torch.randn(16, 4) * 2 + 3, torch.randn(16, 1)) for _ in range(3)]
    for epoch in range(2):
        net.train()
        for x, y in data:
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
            ema.step(net)
    print("ema loss", evaluate(ema.shadow, data))
    stale = torch.equal(ema.shadow[1].running_mean, torch.zeros(6))
    print("BN-GROUND-TRUTH:", "stale" if stale else "recomputed")
