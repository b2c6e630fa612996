"""Hand-written BN with an early return in eval mode (the update below only runs while training)."""
import torch
import torch.nn as nn


class GhostBatchNorm(nn.Module):
    def __init__(self, dim, virtual_batch=4, momentum=0.1):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(dim))
        self.shift = nn.Parameter(torch.zeros(dim))
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.virtual_batch, self.momentum = virtual_batch, momentum

    def forward(self, x):
        if not self.training:
            return (x - self.running_mean) / (self.running_var + 1e-5).sqrt() * self.scale + self.shift
        outs = []
        for chunk in x.split(self.virtual_batch):
            mean, var = chunk.mean(0), chunk.var(0, unbiased=False)
            self.running_mean.mul_(1 - self.momentum).add_(mean.detach(), alpha=self.momentum)
            self.running_var.mul_(1 - self.momentum).add_(var.detach(), alpha=self.momentum)
            outs.append((chunk - mean) / (var + 1e-5).sqrt())
        return torch.cat(outs) * self.scale + self.shift


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), GhostBatchNorm(4), nn.ReLU(), nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(2):
        opt.zero_grad()
        model(torch.randn(16, 3) + 1).pow(2).mean().backward()
        opt.step()
    trained = model[1].running_mean.clone()
    model.eval()
    with torch.no_grad():
        model(torch.randn(16, 3) * 8)
    ok = not torch.equal(trained, torch.zeros(4)) and torch.equal(trained, model[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "contaminated")
