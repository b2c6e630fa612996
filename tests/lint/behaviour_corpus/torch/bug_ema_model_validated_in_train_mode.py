"""Mean-teacher style EMA: ema_model = deepcopy(model) is updated after every step (parameters
AND buffers) and used for validation. deepcopy copies the training flag, and nothing ever calls
ema_model.eval(): validation runs under no_grad but BatchNorm normalizes with the validation
batches' own statistics and folds them into the EMA model's running statistics."""
import copy

import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU())
        self.head = nn.Linear(32, 2)

    def forward(self, x):
        return self.head(self.body(x))


@torch.no_grad()
def ema_update(ema_model, model, decay=0.99):
    for ema_p, p in zip(ema_model.parameters(), model.parameters()):
        ema_p.mul_(decay).add_(p, alpha=1 - decay)
    for ema_b, b in zip(ema_model.buffers(), model.buffers()):
        ema_b.copy_(b)


@torch.no_grad()
def validate(net, loader):
    correct = 0
    for x, y in loader:
        correct += (net(x).argmax(1) == y).sum().item()
    return correct / sum(len(y) for _, y in loader)


def main(epochs=2):
    torch.manual_seed(0)
    model = Net()
    ema_model = copy.deepcopy(model)
    for p in ema_model.parameters():
        p.requires_grad_(False)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    train_loader = [(torch.randn(16, 10), torch.randint(0, 2, (16,))) for _ in range(3)]
    val_loader = [(torch.randn(16, 10) * 4 - 3, torch.randint(0, 2, (16,)))]
    contaminated = False
    for epoch in range(epochs):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
            ema_update(ema_model, model)
        before = ema_model.body[1].running_mean.clone()
        acc = validate(ema_model, val_loader)
        contaminated |= not torch.equal(before, ema_model.body[1].running_mean)
        print(f"epoch {epoch} ema val acc {acc:.2f}")
    print("BN-GROUND-TRUTH:", "contaminated" if contaminated else "clean")


if __name__ == "__main__":
    main()
