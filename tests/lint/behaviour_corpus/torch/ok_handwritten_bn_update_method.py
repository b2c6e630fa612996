"""Hand-written BN whose statistics update lives in a helper method called only while training."""
import torch
from torch import nn


class RenormBN(nn.Module):
    def __init__(self, n, momentum=0.05):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(n))
        self.beta = nn.Parameter(torch.zeros(n))
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))
        self.momentum = momentum

    @torch.no_grad()
    def _update_stats(self, mean, var):
        self.running_mean.mul_(1 - self.momentum).add_(mean, alpha=self.momentum)
        self.running_var.mul_(1 - self.momentum).add_(var, alpha=self.momentum)

    def forward(self, x):
        if self.training:
            mean, var = x.mean(0), x.var(0, unbiased=False)
            self._update_stats(mean, var)
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) * torch.rsqrt(var + 1e-5) * self.gamma + self.beta


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 5), RenormBN(5), nn.ReLU(), nn.Linear(5, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 4) + 2).pow(2).mean().backward()
        opt.step()
    trained = model[1].running_mean.clone()
    model.eval()
    with torch.no_grad():
        model(torch.randn(8, 4) * 6)
    ok = not torch.equal(trained, torch.zeros(5)) and torch.equal(trained, model[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "contaminated")
