"""SWA with torch.optim.swa_utils.update_bn before evaluating the averaged model."""
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, SWALR, update_bn


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    swa_model = AveragedModel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    scheduler = SWALR(optimizer, swa_lr=0.02)
    loader = [torch.randn(16, 4) * 3 + 2 for _ in range(3)]
    for epoch in range(3):
        model.train()
        for x in loader:
            optimizer.zero_grad()
            model(x).pow(2).mean().backward()
            optimizer.step()
        swa_model.update_parameters(model)
        scheduler.step()
    update_bn(loader, swa_model)
    swa_model.eval()
    with torch.no_grad():
        swa_model(loader[0])
    recomputed = not torch.equal(swa_model.module[1].running_mean, torch.zeros(8))
    print("BN-GROUND-TRUTH:", "recomputed" if recomputed else "stale")


if __name__ == "__main__":
    main()
