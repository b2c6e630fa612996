"""Inference helper that sets `training = False` on every submodule (model.modules()), which is
exactly what eval() does - just without calling it. Validation therefore uses the running
statistics and leaves them alone; set_train_mode() flips every module back before training."""
import torch
import torch.nn.functional as F
from torch import nn


def set_inference_mode(model):
    for module in model.modules():
        module.training = False


def set_train_mode(model):
    for module in model.modules():
        module.training = True


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(F.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


@torch.no_grad()
def validate(model, loader):
    set_inference_mode(model)
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / sum(len(y) for _, y in loader)


def main(epochs=2):
    torch.manual_seed(0)
    model = Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    train_loader = [(torch.randn(8, 1, 6, 6), torch.randint(0, 3, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 1, 6, 6) * 4 + 6, torch.randint(0, 3, (8,))) for _ in range(2)]
    absorbed = False
    for epoch in range(epochs):
        set_train_mode(model)
        for x, y in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        before = model.bn.running_mean.clone()
        print("epoch", epoch, "val acc", validate(model, val_loader))
        absorbed |= not torch.allclose(model.bn.running_mean, before)
    updated = model.bn.num_batches_tracked.item() == epochs * len(train_loader)
    print("BN-GROUND-TRUTH:", "contaminated" if absorbed else ("updated" if updated else "stale"))


if __name__ == "__main__":
    main()
