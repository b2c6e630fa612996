"""BYOL-style target network: forward in train mode under no_grad, updated by EMA (deliberate)."""
import copy

import torch
from torch import nn


def mlp(dim_in, hidden, dim_out):
    return nn.Sequential(nn.Linear(dim_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                         nn.Linear(hidden, dim_out))


class BYOL(nn.Module):
    def __init__(self, tau=0.99):
        super().__init__()
        self.online = mlp(6, 12, 4)
        self.predictor = mlp(4, 12, 4)
        self.target = copy.deepcopy(self.online)
        for p in self.target.parameters():
            p.requires_grad = False
        self.tau = tau

    @torch.no_grad()
    def update_target(self):
        for po, pt in zip(self.online.parameters(), self.target.parameters()):
            pt.mul_(self.tau).add_(po, alpha=1 - self.tau)

    def loss(self, v1, v2):
        p1 = nn.functional.normalize(self.predictor(self.online(v1)), dim=-1)
        with torch.no_grad():
            z2 = nn.functional.normalize(self.target(v2), dim=-1)
        return (2 - 2 * (p1 * z2).sum(-1)).mean()


if __name__ == "__main__":
    torch.manual_seed(0)
    byol = BYOL()
    opt = torch.optim.SGD(list(byol.online.parameters()) + list(byol.predictor.parameters()), lr=0.05)
    byol.train()
    start = byol.target[1].running_mean.clone()
    for _ in range(3):
        x = torch.randn(16, 6) + 1
        opt.zero_grad()
        byol.loss(x + 0.1 * torch.randn_like(x), x + 0.1 * torch.randn_like(x)).backward()
        opt.step()
        byol.update_target()
    target_tracks = not torch.equal(start, byol.target[1].running_mean)
    online_tracks = not torch.equal(torch.zeros(12), byol.online[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if target_tracks and online_tracks else "frozen")
