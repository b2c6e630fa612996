import torch
from torch import nn


class TinyResNet(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        self.block = nn.Sequential(nn.Conv2d(width, width, 3, padding=1, bias=False), nn.BatchNorm2d(width))
        self.feat_dim = width

    def forward(self, x):
        h = self.stem(x)
        return torch.relu(h + self.block(h)).mean(dim=(2, 3))


class LinearProbe(nn.Module):
    """Linear evaluation protocol: a classifier on top of a fixed pretrained backbone."""

    def __init__(self, backbone, num_classes):
        super().__init__()
        self.backbone = backbone
        self.fc = nn.Linear(backbone.feat_dim, num_classes)

    def forward(self, x):
        with torch.no_grad():
            feats = self.backbone(x)
        return self.fc(feats)
