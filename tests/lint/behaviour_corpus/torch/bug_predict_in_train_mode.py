"""Train, then run inference on new data without eval() (inference_mode does not switch BN)."""
import torch
from torch import nn


class TabularNet(nn.Module):
    def __init__(self, n_in, hidden=16):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(n_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                    nn.Linear(hidden, 1))

    def forward(self, x):
        return self.layers(x).squeeze(-1)


def train_model(X, y, epochs=3):
    model = TabularNet(X.shape[1])
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    model.train()
    for _ in range(epochs):
        for i in range(0, len(X), 16):
            opt.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(X[i:i + 16]), y[i:i + 16]).backward()
            opt.step()
    return model


def predict(model, X_new):
    with torch.inference_mode():
        return torch.sigmoid(model(X_new))


if __name__ == "__main__":
    torch.manual_seed(0)
    X, y = torch.randn(48, 5), torch.randint(0, 2, (48,)).float()
    model = train_model(X, y)
    before = model.layers[1].running_mean.clone()
    predict(model, torch.randn(20, 5) + 5)
    after = model.layers[1].running_mean
    print("BN-GROUND-TRUTH:", "contaminated" if not torch.equal(before, after) else "updated")
