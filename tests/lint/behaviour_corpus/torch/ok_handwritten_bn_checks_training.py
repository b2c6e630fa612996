"""Hand-written BN (e.g. for a custom op) that only updates statistics in training mode."""
import torch
from torch import nn


class MyBatchNorm(nn.Module):
    def __init__(self, n, momentum=0.1, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))
        self.momentum, self.eps = momentum, eps

    def forward(self, x):
        if self.training:
            mean, var = x.mean(0), x.var(0, unbiased=False)
            with torch.no_grad():
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var, self.momentum)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / (var + self.eps).sqrt() * self.weight + self.bias


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), MyBatchNorm(4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(16, 3) + 1).pow(2).mean().backward()
        opt.step()
    trained = model[1].running_mean.clone()
    model.eval()
    with torch.no_grad():
        model(torch.randn(16, 3) * 9)
    ok = not torch.equal(trained, torch.zeros(4)) and torch.equal(trained, model[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "contaminated")
