from torch import nn

from config import BATCH_NORM_EPSILON, BATCH_NORM_MOMENTUM


def conv_bn_act(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout, eps=BATCH_NORM_EPSILON, momentum=BATCH_NORM_MOMENTUM),
        nn.SiLU(),
    )
