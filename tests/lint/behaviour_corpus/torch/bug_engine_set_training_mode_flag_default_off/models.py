"""Tiny model zoo; build_model(name, **kw) mirrors a timm-style create_model()."""
from torch import nn


class SmallConvNet(nn.Module):
    def __init__(self, in_chans=3, num_classes=4, width=8):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.stem(x)).flatten(1))


_REGISTRY = {"small_conv": SmallConvNet}


def build_model(name, **kwargs):
    return _REGISTRY[name](**kwargs)
