"""Model zoo of the project: build_model(cfg) returns a small conv classifier."""
from torch import nn


class TinyConvNet(nn.Module):
    def __init__(self, in_ch=3, width=8, num_classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu1 = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width, num_classes)

    # layer groups the deployment tooling may fold together
    fusable = [["conv1", "bn1", "relu1"]]

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        return self.fc(self.pool(x).flatten(1))


def build_model(cfg):
    return TinyConvNet(cfg["in_ch"], cfg["width"], cfg["num_classes"])
