"""Linear evaluation protocol: train a linear classifier on frozen features."""
import torch
from torch import nn


def fit_probe(probe, batches, epochs=2):
    optimizer = torch.optim.SGD(probe.fc.parameters(), lr=0.1)
    for _ in range(epochs):
        probe.train()
        for x, y in batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(probe(x), y).backward()
            optimizer.step()
