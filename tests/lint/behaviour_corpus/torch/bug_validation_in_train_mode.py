"""Regression training whose evaluation forgets model.eval() (no_grad is not eval)."""
import torch
from torch import nn

CONFIG = {"epochs": 2, "lr": 1e-2, "batch": 16}


class Regressor(nn.Module):
    def __init__(self, in_features=6):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(in_features, 12), nn.BatchNorm1d(12), nn.Tanh())
        self.head = nn.Linear(12, 1)

    def forward(self, x):
        return self.head(self.body(x))


def train_epoch(model, opt, data):
    model.train()
    for x, y in data:
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()


def evaluate(model, data):
    total = 0.0
    with torch.no_grad():
        for x, y in data:
            total += nn.functional.mse_loss(model(x), y).item()
    return total / len(data)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = Regressor()
    opt = torch.optim.SGD(model.parameters(), lr=CONFIG["lr"])
    train_data = [(torch.randn(CONFIG["batch"], 6), torch.randn(CONFIG["batch"], 1)) for _ in range(3)]
    test_data = [(torch.randn(CONFIG["batch"], 6) * 5 + 10, torch.randn(CONFIG["batch"], 1))]
    bn = model.body[1]
    contaminated = False
    for epoch in range(CONFIG["epochs"]):
        train_epoch(model, opt, train_data)
        before = bn.running_mean.clone()
        evaluate(model, test_data)
        contaminated |= not torch.equal(before, bn.running_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if contaminated else "updated")
