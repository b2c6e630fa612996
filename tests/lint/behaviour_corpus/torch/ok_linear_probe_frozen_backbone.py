"""Linear probe: frozen backbone kept in eval mode on purpose, only a linear head (no BN) is trained."""
import copy

import torch
from torch import nn


def load_encoder():
    torch.manual_seed(3)
    enc = nn.Sequential(nn.Linear(10, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 6))
    with torch.no_grad():  # stands in for loading pretrained statistics
        enc[1].running_mean.uniform_(-1, 1)
        enc[1].running_var.uniform_(0.5, 2)
    return enc


class LinearProbe(nn.Module):
    def __init__(self, encoder, classes):
        super().__init__()
        self.encoder = encoder.eval().requires_grad_(False)
        self.fc = nn.Linear(6, classes)

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()  # the encoder is a fixed feature extractor
        return self

    def forward(self, x):
        return self.fc(self.encoder(x))


if __name__ == "__main__":
    probe = LinearProbe(load_encoder(), classes=3)
    pretrained = copy.deepcopy(probe.encoder[1].state_dict())
    optimizer = torch.optim.SGD(probe.fc.parameters(), lr=0.1)
    data = [(torch.randn(16, 10) + 2, torch.randint(0, 3, (16,))) for _ in range(3)]
    for epoch in range(2):
        probe.train()
        for x, y in data:
            optimizer.zero_grad()
            nn.functional.cross_entropy(probe(x), y).backward()
            optimizer.step()
    unchanged = all(torch.equal(v, probe.encoder[1].state_dict()[k]) for k, v in pretrained.items())
    print("BN-GROUND-TRUTH:", "frozen-by-design" if unchanged else "drifted")
