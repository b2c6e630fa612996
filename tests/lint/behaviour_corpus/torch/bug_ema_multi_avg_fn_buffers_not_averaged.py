"""EMA of the weights with torch.optim.swa_utils.AveragedModel(multi_avg_fn=get_ema_multi_avg_fn()):
without use_buffers=True only the parameters are averaged; the EMA copy's BatchNorm buffers are just
copied from the live model, i.e. statistics of the live weights, and the EMA model is evaluated with
them (no update_bn pass recomputes them for the averaged weights)."""
import copy

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn, update_bn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)


def build_ema(model, decay):
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay))


def train_epoch(model, ema, loader, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
        ema.update_parameters(model)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    return sum(nn.functional.mse_loss(model(x), y).item() for x, y in loader) / len(loader)


def main(epochs=3, decay=0.9):
    torch.manual_seed(0)
    model = Regressor()
    ema = build_ema(model, decay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    train_loader = [(torch.randn(16, 5) * 2 + 3, torch.randn(16, 1)) for _ in range(4)]
    val_loader = [(torch.randn(16, 5) * 2 + 3, torch.randn(16, 1))]
    for epoch in range(epochs):
        train_epoch(model, ema, train_loader, optimizer)
        print(f"epoch {epoch} live {evaluate(model, val_loader):.3f} ema {evaluate(ema, val_loader):.3f}")
    ema_bn = ema.module.net[1]
    # what the statistics of the averaged weights really are (measurement only, not part of the run)
    probe = copy.deepcopy(ema.module)
    update_bn([x for x, _ in train_loader], probe)
    copied_from_live = torch.equal(ema_bn.running_mean, model.net[1].running_mean)
    print("ema vs recomputed max diff", (ema_bn.running_mean - probe.net[1].running_mean).abs().max().item())
    stale = copied_from_live and not torch.allclose(ema_bn.running_mean, probe.net[1].running_mean, atol=0.05)
    print("BN-GROUND-TRUTH:", "stale" if stale else "recomputed")


if __name__ == "__main__":
    main()
