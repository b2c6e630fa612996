"""EMA with AveragedModel(use_buffers=True): BN buffers are averaged along with the weights."""
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def build():
    return nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build()
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(5):
        opt.zero_grad()
        model(torch.randn(16, 4) * 2 + 3).pow(2).mean().backward()
        opt.step()
        ema_model.update_parameters(model)
    ema_model.eval()
    with torch.no_grad():
        ema_model(torch.randn(4, 4))
    averaged = not torch.equal(ema_model.module[1].running_mean, torch.zeros(6))
    print("BN-GROUND-TRUTH:", "averaged-buffers" if averaged else "stale")
