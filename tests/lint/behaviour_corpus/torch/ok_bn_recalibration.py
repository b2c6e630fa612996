"""AdaBN / BN re-estimation: reset the statistics and recompute them on target data in train mode."""
import torch
from torch import nn


@torch.no_grad()
def recalibrate_bn(model, loader, num_batches=4):
    """Re-estimate BN statistics on `loader` (cumulative average), leave the weights alone."""
    was_training = model.training
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved_momentum = [bn.momentum for bn in bns]
    for bn in bns:
        bn.reset_running_stats()
        bn.momentum = None
    model.train()
    for i, x in enumerate(loader):
        if i >= num_batches:
            break
        model(x)
    for bn, m in zip(bns, saved_momentum):
        bn.momentum = m
    model.train(was_training)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 7), nn.BatchNorm1d(7), nn.ReLU(), nn.Linear(7, 2))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    net.train()
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(16, 5)).sum().backward()
        opt.step()
    net.eval()
    target_domain = [torch.randn(16, 5) * 2 + 3 for _ in range(4)]
    recalibrate_bn(net, target_domain)
    with torch.no_grad():
        expected = torch.cat([net[0](x) for x in target_domain]).mean(0)
    ok = torch.allclose(net[1].running_mean, expected, atol=1e-4) and not net.training
    print("BN-GROUND-TRUTH:", "recalibrated" if ok else "broken")
