"""Model zoo: build_model(cfg) returns one of the registered tabular networks."""
from torch import nn


class ResidualMLP(nn.Module):
    def __init__(self, in_features, width, num_classes):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(in_features, width), nn.BatchNorm1d(width), nn.ReLU())
        self.block = nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        h = self.stem(x)
        h = h + self.block(h)
        return self.classifier(h)


_REGISTRY = {"resmlp": ResidualMLP}


def build_model(cfg):
    return _REGISTRY[cfg.arch](cfg.in_features, cfg.width, cfg.num_classes)
