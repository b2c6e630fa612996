"""validate() remembers the mode it found and restores it, so the epoch loop needs no train()."""
import torch
from torch import nn


def validate(model, batches):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return [model(x).mean().item() for x in batches]
    finally:
        model.train(was_training)


def run(epochs=3):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [torch.randn(10, 4) + 2 for _ in range(2)]
    model.train()
    bn = model[1]
    updated = []
    for _ in range(epochs):
        before = bn.running_mean.clone()
        for x in data:
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        updated.append(not torch.equal(before, bn.running_mean))
        before = bn.running_mean.clone()
        validate(model, [torch.randn(10, 4) * 5])
        assert torch.equal(before, bn.running_mean)
    print("BN-GROUND-TRUTH:", "updated" if all(updated) else "stale")


if __name__ == "__main__":
    run()
