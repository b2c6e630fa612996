"""Encoder, pretraining model and linear-probe wrapper."""
from torch import nn


def make_encoder():
    return nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 6))


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = make_encoder()
        self.decoder = nn.Linear(6, 10)

    def forward(self, x):
        return self.decoder(self.encoder(x))


class LinearProbe(nn.Module):
    def __init__(self, encoder, classes):
        super().__init__()
        self.encoder = encoder.requires_grad_(False)
        self.fc = nn.Linear(6, classes)

    def train(self, mode=True):
        super().train(mode)
        self.encoder.eval()  # frozen features: the probe never touches the encoder statistics
        return self

    def forward(self, x):
        return self.fc(self.encoder(x))
