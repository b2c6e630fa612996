"""PointNet++-style BatchNorm momentum schedule: BN momentum starts at 0.5 (PyTorch convention:
weight of the new batch) and is halved every few epochs down to a floor of 0.01, like the
BNMomentumScheduler of the reference implementation. High momentum early on is deliberate (fast
adaptation while the weights move a lot); the running statistics keep tracking the data."""
import torch
import torch.nn.functional as F
from torch import nn

BN_MOMENTUM_INIT = 0.5
BN_DECAY = 0.5
BN_DECAY_EVERY = 2
BN_MOMENTUM_MIN = 0.01


def bn_momentum_at(epoch):
    return max(BN_MOMENTUM_INIT * BN_DECAY ** (epoch // BN_DECAY_EVERY), BN_MOMENTUM_MIN)


class BNMomentumScheduler:
    def __init__(self, model, momentum_fn):
        self.model = model
        self.momentum_fn = momentum_fn

    def step(self, epoch):
        for m in self.model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.momentum = self.momentum_fn(epoch)


class PointFeat(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.mlp = nn.Sequential(nn.Conv1d(3, 16, 1, bias=False), nn.BatchNorm1d(16, momentum=BN_MOMENTUM_INIT),
                                 nn.ReLU(), nn.Conv1d(16, 16, 1, bias=False), nn.BatchNorm1d(16), nn.ReLU())
        self.fc = nn.Linear(16, classes)

    def forward(self, points):
        return self.fc(self.mlp(points).max(dim=2).values)


def main(epochs=4):
    torch.manual_seed(0)
    model = PointFeat()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    bn_scheduler = BNMomentumScheduler(model, bn_momentum_at)
    loader = [(torch.randn(8, 3, 32) + 2, torch.randint(0, 3, (8,))) for _ in range(2)]
    for epoch in range(epochs):
        bn_scheduler.step(epoch)
        model.train()
        for pts, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(pts), y).backward()
            optimizer.step()
    bn = model.mlp[1]
    tracks = bn.momentum == 0.25 and abs(float(bn.running_mean.mean())) > 0.05
    print("BN-GROUND-TRUTH:", "updated" if tracks else "frozen")


if __name__ == "__main__":
    main()
