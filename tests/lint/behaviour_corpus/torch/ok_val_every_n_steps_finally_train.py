"""Step-based training with validation every `val_every` steps and early stopping on the
validation loss. The validation helper runs inside try/finally so the model is always put back in
train mode, also when the early-stopping check breaks out of the loop."""
import torch
import torch.nn.functional as F
from torch import nn


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 1))

    def forward(self, x):
        return self.net(x)


def run_validation(model, val_batches):
    model.eval()
    try:
        with torch.no_grad():
            return sum(F.mse_loss(model(x), y).item() for x, y in val_batches) / len(val_batches)
    finally:
        model.train()


def main(max_steps=12, val_every=4, patience=10):
    torch.manual_seed(0)
    model = Regressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    train_batches = [(torch.randn(16, 5) + 1.5, torch.randn(16, 1)) for _ in range(4)]
    val_batches = [(torch.randn(16, 5) * 3, torch.randn(16, 1))]
    best, bad, step = float("inf"), 0, 0
    model.train()
    while step < max_steps:
        x, y = train_batches[step % len(train_batches)]
        optimizer.zero_grad()
        F.mse_loss(model(x), y).backward()
        optimizer.step()
        step += 1
        if step % val_every == 0:
            val_loss = run_validation(model, val_batches)
            if val_loss < best:
                best, bad = val_loss, 0
            else:
                bad += 1
                if bad >= patience:
                    break
    tracked = int(model.net[1].num_batches_tracked)
    print("BN-GROUND-TRUTH:", "updated" if tracked == max_steps else "stale")


if __name__ == "__main__":
    main()
