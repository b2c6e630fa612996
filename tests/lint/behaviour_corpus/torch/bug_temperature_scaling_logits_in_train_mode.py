"""Post-hoc calibration: after training, TemperatureScaler.fit() collects the validation logits of
the wrapped model under torch.no_grad() and tunes a temperature with LBFGS. fit() never puts the
wrapped model in eval(), and the training loop left it in train mode: BatchNorm normalises the
validation batches with batch statistics and folds them into the running statistics that the
deployed (calibrated) model uses."""
import argparse

import torch
from torch import nn


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="train + temperature scaling")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--batch-size", type=int, default=32)
    return p.parse_args(argv)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(12, 32)
        self.norm = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 4)

    def forward(self, x):
        return self.fc2(torch.relu(self.norm(self.fc1(x))))


class TemperatureScaler(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self.temperature = nn.Parameter(torch.ones(1) * 1.5)

    def forward(self, x):
        return self.model(x) / self.temperature

    def fit(self, loader):
        logits, labels = [], []
        with torch.no_grad():
            for x, y in loader:
                logits.append(self.model(x))
                labels.append(y)
        logits, labels = torch.cat(logits), torch.cat(labels)
        optimizer = torch.optim.LBFGS([self.temperature], lr=0.05, max_iter=30)

        def closure():
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(logits / self.temperature, labels)
            loss.backward()
            return loss
        optimizer.step(closure)
        return self.temperature.item()


def make_loader(n, shift, seed, bs):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g) + shift
    y = (x[:, :4].argmax(1))
    return [(x[i:i + bs], y[i:i + bs]) for i in range(0, n, bs)]


def train(model, loader, args):
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=1e-4)
    for _ in range(args.epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()


def main():
    args = parse_args([])
    torch.manual_seed(0)
    model = Net()
    train(model, make_loader(160, 0.0, 1, args.batch_size), args)
    trained_mean = model.norm.running_mean.clone()
    scaler = TemperatureScaler(model)
    t = scaler.fit(make_loader(64, 1.5, 2, args.batch_size))
    print(f"temperature {t:.3f}")
    touched = not torch.allclose(model.norm.running_mean, trained_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if touched else "updated")


if __name__ == "__main__":
    main()
