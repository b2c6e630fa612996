"""A hand-rolled normalisation layer calling F.batch_norm with training hard-coded False."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class FeatureNorm(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.eps, self.momentum = eps, momentum

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training=False, momentum=self.momentum, eps=self.eps)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(5, 8)
        self.norm = FeatureNorm(8)
        self.cls = nn.Linear(8, 3)

    def forward(self, x):
        return self.cls(torch.relu(self.norm(self.lin(x))))


def fit(net, steps):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(steps):
        x, y = torch.randn(12, 5) + 2, torch.randint(0, 3, (12,))
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    net = Net()
    fit(net, 4)
    frozen = torch.equal(net.norm.running_mean, torch.zeros(8))
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
