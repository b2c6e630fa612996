"""LR range test (fastai/torch-lr-finder style): a throw-away sweep trains a few steps at growing
learning rates, then the model's state_dict (BN buffers included) and the optimizer are restored
before the real training, which switches train()/eval() every epoch."""
import copy
import math

import torch
from torch import nn


class LRFinder:
    def __init__(self, model, optimizer, criterion):
        self.model = model
        self.optimizer = optimizer
        self.criterion = criterion
        self._model_state = copy.deepcopy(model.state_dict())
        self._optim_state = copy.deepcopy(optimizer.state_dict())

    def range_test(self, loader, start_lr=1e-4, end_lr=1.0, num_iter=6):
        gamma = (end_lr / start_lr) ** (1 / max(num_iter - 1, 1))
        lrs, losses = [], []
        self.model.train()
        for i in range(num_iter):
            lr = start_lr * gamma ** i
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            x, y = loader[i % len(loader)]
            self.optimizer.zero_grad()
            loss = self.criterion(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            lrs.append(lr)
            losses.append(loss.item())
        return lrs, losses

    def reset(self):
        self.model.load_state_dict(self._model_state)
        self.optimizer.load_state_dict(self._optim_state)


def suggest_lr(lrs, losses):
    slopes = [losses[i + 1] - losses[i] for i in range(len(losses) - 1)]
    return lrs[min(range(len(slopes)), key=slopes.__getitem__)]


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 2))
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    train_loader = [(torch.randn(16, 4) + 1, torch.randint(0, 2, (16,))) for _ in range(3)]
    val_loader = [(torch.randn(16, 4) + 1, torch.randint(0, 2, (16,)))]
    finder = LRFinder(model, optimizer, criterion)
    lrs, losses = finder.range_test(train_loader)
    finder.reset()
    bn = model[1]
    restored = int(bn.num_batches_tracked) == 0
    lr = suggest_lr(lrs, losses)
    for group in optimizer.param_groups:
        group["lr"] = lr if math.isfinite(lr) else 0.01
    tracked = []
    for epoch in range(3):
        model.train()
        for x, y in train_loader:
            optimizer.zero_grad()
            criterion(model(x), y).backward()
            optimizer.step()
        tracked.append(int(bn.num_batches_tracked))
        model.eval()
        with torch.no_grad():
            acc = sum((model(x).argmax(1) == y).float().mean().item() for x, y in val_loader)
        print(f"epoch {epoch} acc {acc:.2f}")
    print("BN-GROUND-TRUTH:", "updated" if restored and tracked == [3, 6, 9] else "broken")


if __name__ == "__main__":
    main()
