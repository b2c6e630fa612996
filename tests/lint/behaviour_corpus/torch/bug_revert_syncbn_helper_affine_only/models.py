"""build_model(cfg): small segmentation-style encoder; SyncBN when the config asks for it."""
from torch import nn


class Encoder(nn.Module):
    def __init__(self, in_ch, width, num_classes):
        super().__init__()
        self.block = nn.Sequential(nn.Conv2d(in_ch, width, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(width), nn.ReLU())
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x):
        return self.head(self.block(x)).mean((2, 3))


def build_model(cfg):
    model = Encoder(cfg["in_ch"], cfg["width"], cfg["num_classes"])
    if cfg["sync_bn"]:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model
