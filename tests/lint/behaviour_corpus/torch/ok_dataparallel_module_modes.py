"""DataParallel wrapper; train_epoch() and evaluate() set the mode on model.module themselves."""
import torch
from torch import nn


def train_epoch(model, batches, opt):
    model.module.train()
    for x, y in batches:
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@torch.no_grad()
def evaluate(model, batches):
    model.module.eval()
    return sum(nn.functional.mse_loss(model(x), y).item() for x, y in batches) / len(batches)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    model = nn.DataParallel(net)
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    train = [(torch.randn(16, 6) + 2, torch.randn(16, 1)) for _ in range(3)]
    val = [(torch.randn(16, 6) - 4, torch.randn(16, 1))]
    for epoch in range(3):
        train_epoch(model, train, opt)
        print("epoch", epoch, "val", evaluate(model, val))
    bn = net[1]
    ok = int(bn.num_batches_tracked) == 9 and bool((bn.running_mean.abs() > 0).any())
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
