"""Mixed-precision trainer: validation runs under `torch.autocast` + `torch.inference_mode()` but the
author assumed autocast/inference_mode switch the model to inference, so `model.eval()` is never called:
BatchNorm normalizes the validation batches with their own statistics and folds them into its running
statistics."""
import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvNet(nn.Module):
    def __init__(self, num_classes=4):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.head = nn.Linear(8, num_classes)

    def forward(self, x):
        x = F.relu(self.bn(self.conv(x)))
        return self.head(x.mean(dim=(2, 3)))


def make_batches(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(8, 3, 6, 6, generator=g) + shift, torch.randint(0, 4, (8,), generator=g))
            for _ in range(n)]


def train_one_epoch(model, optimizer, batches):
    model.train()
    for images, labels in batches:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


def validate(model, batches):
    correct = total = 0
    with torch.autocast("cpu", dtype=torch.bfloat16), torch.inference_mode():
        for images, labels in batches:
            preds = model(images).argmax(dim=1)
            correct += (preds == labels).sum().item()
            total += labels.numel()
    return correct / total


if __name__ == "__main__":
    torch.manual_seed(0)
    model = ConvNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    train_batches, val_batches = make_batches(4, 1.0, 0), make_batches(3, 6.0, 1)
    for epoch in range(2):
        train_one_epoch(model, optimizer, train_batches)
        before = model.bn.running_mean.clone()
        acc = validate(model, val_batches)
        moved = not torch.allclose(before, model.bn.running_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if moved else "updated")
