"""Validation helpers wrapped in an @inference decorator that switches the model (first argument)
to eval() under no_grad and restores the mode it found afterwards, even on error."""
import functools

import torch
from torch import nn


def inference(fn):
    @functools.wraps(fn)
    def wrapper(model, *args, **kwargs):
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return fn(model, *args, **kwargs)
        finally:
            model.train(was_training)
    return wrapper


@inference
def mean_abs_error(model, loader):
    return sum((model(x) - y).abs().mean().item() for x, y in loader) / len(loader)


@inference
def predict(model, x):
    return model(x)


class DepthNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.dec = nn.Conv2d(8, 1, 1)

    def forward(self, x):
        return self.dec(self.enc(x))


def main():
    torch.manual_seed(0)
    model = DepthNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_loader = [(torch.rand(4, 3, 8, 8) + 1, torch.rand(4, 1, 8, 8)) for _ in range(3)]
    val_loader = [(torch.rand(4, 3, 8, 8) - 2, torch.rand(4, 1, 8, 8))]
    bn = model.enc[1]
    tracked = []
    model.train()
    for epoch in range(3):
        for step, (x, y) in enumerate(train_loader):
            optimizer.zero_grad()
            nn.functional.l1_loss(model(x), y).backward()
            optimizer.step()
            if step == 1:
                predict(model, x[:1])  # qualitative sample for the log
        tracked.append(int(bn.num_batches_tracked))
        print(f"epoch {epoch} val mae {mean_abs_error(model, val_loader):.3f}")
    print("BN-GROUND-TRUTH:", "updated" if tracked == [3, 6, 9] else "stale")


if __name__ == "__main__":
    main()
