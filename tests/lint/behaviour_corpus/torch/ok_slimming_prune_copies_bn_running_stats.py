"""Network-slimming pipeline (train with an L1 penalty on the BatchNorm scales, prune channels whose
|gamma| is small, deploy the slim network). build_pruned() creates the narrower model and copies,
for the kept channels, the Linear weights and all four BatchNorm tensors (weight, bias,
running_mean, running_var): the deployed slim model (eval mode) normalizes each kept channel with
its trained statistics."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self, hidden=24, n_in=6, n_out=3):
        super().__init__()
        self.fc1 = nn.Linear(n_in, hidden, bias=False)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.bn1(self.fc1(x))))


def sparsity_step(model, opt, x, y, s):
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    model.bn1.weight.grad.add_(s * torch.sign(model.bn1.weight.data))
    opt.step()
    return loss.item()


def select_channels(model, keep_ratio):
    gamma = model.bn1.weight.detach().abs()
    k = max(1, int(round(keep_ratio * gamma.numel())))
    return torch.sort(gamma.topk(k).indices).values


def build_pruned(model, keep):
    slim = Net(hidden=len(keep))
    with torch.no_grad():
        slim.fc1.weight.copy_(model.fc1.weight[keep])
        slim.bn1.weight.copy_(model.bn1.weight[keep])
        slim.bn1.bias.copy_(model.bn1.bias[keep])
        slim.bn1.running_mean.copy_(model.bn1.running_mean[keep])
        slim.bn1.running_var.copy_(model.bn1.running_var[keep])
        slim.fc2.weight.copy_(model.fc2.weight[:, keep])
        slim.fc2.bias.copy_(model.fc2.bias)
    return slim


def accuracy(model, x, y):
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sparsity", type=float, default=1e-3)
    p.add_argument("--keep-ratio", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args([])
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    w = torch.randn(6, 3, generator=gen)
    data = []
    for _ in range(args.steps):
        x = torch.randn(32, 6, generator=gen) * 2 + 3
        data.append((x, (x @ w).argmax(1)))
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for x, y in data:
        sparsity_step(model, opt, x, y, args.sparsity)

    keep = select_channels(model, args.keep_ratio)
    slim = build_pruned(model, keep)
    x_test = torch.randn(64, 6, generator=gen) * 2 + 3
    y_test = (x_test @ w).argmax(1)
    print(f"full acc {accuracy(model, x_test, y_test):.2f}  slim acc {accuracy(slim, x_test, y_test):.2f}")

    expected = model.bn1.running_mean[keep]
    got = slim.bn1.running_mean
    if torch.allclose(got, expected):
        behaviour = "carried-over"
    elif torch.all(got == 0) and torch.all(slim.bn1.running_var == 1):
        behaviour = "init-stats-at-eval"
    else:
        behaviour = "mismatched"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
