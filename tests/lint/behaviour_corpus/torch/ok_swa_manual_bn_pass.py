"""SWA whose BN statistics are recomputed by a hand-written pass (reset, momentum=None, forward in train)."""
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel


@torch.no_grad()
def bn_update(loader, model):
    momenta = {}
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
            module.momentum = None
    model.train()
    for x, _ in loader:
        model(x)
    for module, momentum in momenta.items():
        module.momentum = momentum


if __name__ == "__main__":
    torch.manual_seed(0)
    base = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    swa = AveragedModel(base)
    opt = torch.optim.SGD(base.parameters(), lr=0.05)
    loader = [(torch.randn(16, 4) * 3 + 2, torch.randn(16, 1)) for _ in range(3)]
    for epoch in range(3):
        base.train()
        for x, y in loader:
            opt.zero_grad()
            nn.functional.mse_loss(base(x), y).backward()
            opt.step()
        swa.update_parameters(base)
    bn_update(loader, swa)
    swa.eval()
    with torch.no_grad():
        swa(loader[0][0])
        true_mean = torch.cat([swa.module[0](x) for x, _ in loader]).mean(0)
    ok = torch.allclose(swa.module[1].running_mean, true_mean, atol=1e-4)
    print("BN-GROUND-TRUTH:", "recomputed" if ok else "stale")
