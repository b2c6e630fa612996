from torch import nn

import config
from layers import conv_bn_act


class SmallConvNet(nn.Module):
    def __init__(self):
        super().__init__()
        c1, c2 = config.WIDTHS
        self.stem = conv_bn_act(config.IN_CHANNELS, c1)
        self.stage = conv_bn_act(c1, c2, stride=2)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c2, config.NUM_CLASSES)

    def forward(self, x):
        return self.fc(self.pool(self.stage(self.stem(x))).flatten(1))
