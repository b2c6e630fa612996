"""A custom BN for point clouds that always updates its running statistics."""
import torch
import torch.nn as nn


class PointBatchNorm(nn.Module):
    def __init__(self, channels, momentum=0.1, eps=1e-5):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.momentum = momentum
        self.eps = eps

    def forward(self, x):
        mean = x.mean(dim=0)
        var = x.var(dim=0, unbiased=False)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
            self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
        if self.training:
            x = (x - mean) / torch.sqrt(var + self.eps)
        else:
            x = (x - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        return x * self.gamma + self.beta


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 6), PointBatchNorm(6), nn.ReLU(), nn.Linear(6, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(3):
        pts = torch.randn(32, 3)
        opt.zero_grad()
        model(pts).pow(2).mean().backward()
        opt.step()
    model.eval()
    norm = model[1]
    before = norm.running_mean.clone()
    with torch.no_grad():
        model(torch.randn(32, 3) * 4 + 7)
    print("BN-GROUND-TRUTH:", "contaminated" if not torch.equal(before, norm.running_mean) else "updated")
