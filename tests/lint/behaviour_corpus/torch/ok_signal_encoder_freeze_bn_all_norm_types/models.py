from torch import nn

from backbone import SignalEncoder, freeze_bn


class KeywordSpotter(nn.Module):
    def __init__(self, num_classes=4, norm_eval=True):
        super().__init__()
        self.encoder = SignalEncoder()
        self.head = nn.Linear(self.encoder.out_dim, num_classes)
        self.norm_eval = norm_eval

    def train(self, mode=True):
        super().train(mode)
        if mode and self.norm_eval:
            freeze_bn(self.encoder)
        return self

    def forward(self, x):
        return self.head(self.encoder(x))


def build_model(cfg):
    return KeywordSpotter(num_classes=cfg["num_classes"], norm_eval=cfg["norm_eval"])
