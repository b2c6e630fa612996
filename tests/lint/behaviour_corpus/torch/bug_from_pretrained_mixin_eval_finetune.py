"""Two-stage script: pretrain an encoder on source data and save it with a small
save_pretrained()/from_pretrained() mixin (transformers-like API), then fine-tune the reloaded
model on target data with a hand-written loop."""
import json
import os
import tempfile

import torch
from torch import nn


class PretrainedMixin:
    def save_pretrained(self, directory):
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "config.json"), "w") as fh:
            json.dump(self.config, fh)
        torch.save(self.state_dict(), os.path.join(directory, "weights.pt"))

    @classmethod
    def from_pretrained(cls, directory):
        with open(os.path.join(directory, "config.json")) as fh:
            config = json.load(fh)
        model = cls(**config)
        model.load_state_dict(torch.load(os.path.join(directory, "weights.pt")))
        model.eval()
        return model


class TinyEncoderForRegression(PretrainedMixin, nn.Module):
    def __init__(self, d_in=5, hidden=12):
        super().__init__()
        self.config = {"d_in": d_in, "hidden": hidden}
        self.encoder = nn.Sequential(nn.Linear(d_in, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.regressor = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.regressor(self.encoder(x))


def fit(model, x, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        for i in range(0, len(x), 16):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[i:i + 16]), y[i:i + 16]).backward()
            optimizer.step()


def pretrain(directory):
    model = TinyEncoderForRegression()
    model.train()
    x = torch.randn(64, 5) + 1.0
    fit(model, x, x.sum(1, keepdim=True), epochs=2, lr=0.02)
    model.save_pretrained(directory)


def finetune(directory, x, y, epochs=3):
    model = TinyEncoderForRegression.from_pretrained(directory)
    bn = model.encoder[1]
    moved = []
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    for _ in range(epochs):
        before = bn.running_mean.clone()
        for i in range(0, len(x), 16):
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x[i:i + 16]), y[i:i + 16]).backward()
            optimizer.step()
        moved.append(not torch.allclose(before, bn.running_mean))
    return moved


if __name__ == "__main__":
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        pretrain(os.path.join(tmp, "encoder"))
        x_target = torch.randn(64, 5) * 2.0 - 3.0
        moved = finetune(os.path.join(tmp, "encoder"), x_target, x_target.mean(1, keepdim=True))
    print("BN-GROUND-TRUTH:", "updated" if all(moved) else ("frozen" if not any(moved) else "stale"))
