"""TF checkpoint port: BN momentum patched on every module after construction (TF decay value)."""
import torch
import torch.nn as nn


def set_bn_momentum(model, momentum):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = momentum


def build():
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4, 1e-3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build()
    model(torch.randn(2, 3, 6, 6))
    set_bn_momentum(model, 0.997)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    model.train()
    for i in range(3):
        x = torch.randn(8, 3, 6, 6) + i
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    with torch.no_grad():
        last = model[0](x).mean(dim=(0, 2, 3))
    gap = (model[1].running_mean - last).abs().max().item()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.05 * last.abs().max().item() + 1e-3 else "updated")
