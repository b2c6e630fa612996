"""SWA fine-tuning that evaluates the averaged model without recomputing BN statistics."""
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, SWALR


def make_net():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))


def main(epochs=3, swa_start=1):
    torch.manual_seed(0)
    net = make_net()
    swa_net = AveragedModel(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    sched = SWALR(opt, swa_lr=0.01)
    loader = [(torch.randn(16, 4) * 3 + 2, torch.randn(16, 1)) for _ in range(3)]
    for epoch in range(epochs):
        net.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(net(x), y).backward()
            opt.step()
        if epoch >= swa_start:
            swa_net.update_parameters(net)
            sched.step()
    swa_net.eval()
    with torch.no_grad():
        preds = swa_net(loader[0][0])
    # statistics the averaged weights really produce on the training data
    with torch.no_grad():
        true_mean = torch.cat([swa_net.module[0](x) for x, _ in loader]).mean(0)
    stale = not torch.allclose(swa_net.module[1].running_mean, true_mean, atol=2e-2)
    print("prediction mean", preds.mean().item())
    print("BN-GROUND-TRUTH:", "stale" if stale else "recomputed")


if __name__ == "__main__":
    main()
