"""SWA: update_bn() is called, but on the live model instead of the averaged one (swa_model keeps stale stats)."""
import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn


def get_model():
    return nn.Sequential(nn.Linear(5, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 1))


def train(epochs=4, swa_start=2):
    torch.manual_seed(0)
    model = get_model()
    swa_model = AveragedModel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    swa_scheduler = SWALR(optimizer, swa_lr=0.02)
    loader = [(torch.randn(32, 5) * 2 + 3, torch.randn(32, 1)) for _ in range(4)]
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        if epoch >= swa_start:
            swa_model.update_parameters(model)
            swa_scheduler.step()
    update_bn(loader, model)
    return swa_model, loader


if __name__ == "__main__":
    swa_model, loader = train()
    swa_model.eval()
    with torch.no_grad():
        hidden = torch.cat([swa_model.module[0](x) for x, _ in loader])
    true_mean = hidden.mean(0)
    stale = not torch.allclose(swa_model.module[1].running_mean, true_mean, atol=2e-2)
    print("BN-GROUND-TRUTH:", "stale" if stale else "recomputed")
