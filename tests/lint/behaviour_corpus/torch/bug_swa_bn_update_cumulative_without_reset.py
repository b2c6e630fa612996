"""SWA script in the style of the original swa repo: the averaged copy is created when the SWA phase
starts (swa_model = AveragedModel(model) at epoch == swa_start, so it deep-copies BatchNorm buffers
that already carry num_batches_tracked from the first epochs) and a hand-written bn_update() runs
before the final evaluation. bn_update() switches every BN to momentum=None (cumulative average) and
forwards the training set in train mode, but never calls reset_running_stats(): the cumulative factor
is 1 / (num_batches_tracked + 1) with the counter still at its pre-SWA value, so each recalibration
batch barely moves the statistics and the averaged model keeps the stale ones."""
import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel

HPARAMS = {"epochs": 8, "swa_start": 3, "lr": 0.08, "swa_lr": 0.2, "batches": 10}


def build_model():
    return nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 1))


@torch.no_grad()
def bn_update(loader, model):
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.momentum = None
    model.train()
    for x, _ in loader:
        model(x)
    for m, momentum in zip(bns, saved):
        m.momentum = momentum


def main():
    torch.manual_seed(0)
    model = build_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=HPARAMS["lr"], momentum=0.9)
    loader = [(torch.randn(32, 5) * 2 + 3, torch.randn(32, 1) + 2) for _ in range(HPARAMS["batches"])]
    swa_scheduler = SWALR(optimizer, swa_lr=HPARAMS["swa_lr"], anneal_epochs=1)
    swa_model = None
    for epoch in range(HPARAMS["epochs"]):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        if epoch == HPARAMS["swa_start"]:
            swa_model = AveragedModel(model)
        elif epoch > HPARAMS["swa_start"]:
            swa_model.update_parameters(model)
        if epoch >= HPARAMS["swa_start"]:
            swa_scheduler.step()
    before = swa_model.module[1].running_mean.clone()
    bn_update(loader, swa_model)
    swa_model.eval()
    with torch.no_grad():
        hidden = torch.cat([swa_model.module[0](x) for x, _ in loader])
    true_mean = hidden.mean(0)
    err_before = (before - true_mean).abs().max().item()
    err = (swa_model.module[1].running_mean - true_mean).abs().max().item()
    print(f"max |running_mean - population mean|: {err_before:.4f} before bn_update, {err:.4f} after")
    print("BN-GROUND-TRUTH:", "recomputed" if err < 0.1 * err_before else "stale")


if __name__ == "__main__":
    main()
