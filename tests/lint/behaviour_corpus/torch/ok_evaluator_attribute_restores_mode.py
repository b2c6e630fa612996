"""Trainer delegates validation to an Evaluator object held as an attribute
(self.evaluator.run(self.model, loader)). Evaluator.run() remembers the mode it found, switches to
eval() and restores the mode in a finally block, so the loop's single model.train() before the
epochs is enough: BatchNorm statistics update in every epoch."""
import torch
import torch.nn.functional as F
from torch import nn


class SmallResNet(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8))
        self.head = nn.Linear(8, classes)

    def forward(self, x):
        x = self.stem(x)
        x = F.relu(x + self.block(x))
        return self.head(x.mean(dim=(2, 3)))


class Evaluator:
    def __init__(self, metric="accuracy"):
        self.metric = metric
        self.history = []

    @torch.no_grad()
    def run(self, model, loader):
        was_training = model.training
        model.eval()
        try:
            correct = total = 0
            for x, y in loader:
                correct += (model(x).argmax(1) == y).sum().item()
                total += len(y)
        finally:
            model.train(was_training)
        self.history.append(correct / total)
        return self.history[-1]


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
        self.evaluator = Evaluator()

    def fit(self, train_loader, val_loader, epochs=3):
        tracked = []
        self.model.train()
        for epoch in range(epochs):
            for x, y in train_loader:
                self.optimizer.zero_grad()
                F.cross_entropy(self.model(x), y).backward()
                self.optimizer.step()
            tracked.append(int(self.model.stem[1].num_batches_tracked))
            acc = self.evaluator.run(self.model, val_loader)
            print(f"epoch {epoch} val acc {acc:.2f}")
        return tracked


def main():
    torch.manual_seed(0)
    train_loader = [(torch.randn(8, 1, 8, 8) + 1.0, torch.randint(0, 3, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,)))]
    tracked = Trainer(SmallResNet()).fit(train_loader, val_loader)
    print("BN-GROUND-TRUTH:", "updated" if tracked == [3, 6, 9] else "stale")


if __name__ == "__main__":
    main()
