"""validate() switches to eval() and switches back with model.train() at its end, but the quick
validation used during training stops after `max_batches` with an early `return` that skips the
restore. fit() calls model.train() once before the epochs, so after the first quick validation the
network keeps training with BatchNorm in eval mode (running statistics stale)."""
import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {
    "epochs": 3,
    "lr": 0.05,
    "quick_val_batches": 2,
}


class SmallConvNet(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def validate(model, loader, max_batches=None):
    """Accuracy on `loader`; with max_batches only the first batches are scored (quick check)."""
    model.eval()
    correct, seen = 0, 0
    with torch.no_grad():
        for i, (images, labels) in enumerate(loader):
            if max_batches is not None and i == max_batches:
                return correct / seen
            correct += (model(images).argmax(1) == labels).sum().item()
            seen += len(labels)
    model.train()
    return correct / seen


def fit(model, train_loader, val_loader, cfg):
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9)
    tracked_per_epoch = []
    model.train()
    for epoch in range(cfg["epochs"]):
        for images, labels in train_loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
        tracked_per_epoch.append(int(model.bn1.num_batches_tracked))
        acc = validate(model, val_loader, max_batches=cfg["quick_val_batches"])
        print(f"epoch {epoch}: quick val acc {acc:.2f}")
    return tracked_per_epoch


def main():
    torch.manual_seed(0)
    train_loader = [(torch.randn(8, 3, 8, 8) + 1.0, torch.randint(0, 4, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 3, 8, 8) + 1.0, torch.randint(0, 4, (8,))) for _ in range(4)]
    model = SmallConvNet()
    tracked = fit(model, train_loader, val_loader, CONFIG)
    print("final val acc", validate(model, val_loader))
    steps = len(train_loader)
    if tracked == [steps * (e + 1) for e in range(CONFIG["epochs"])]:
        behaviour = "updated"
    elif tracked[0] == steps and tracked[-1] == steps:
        behaviour = "stale"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
