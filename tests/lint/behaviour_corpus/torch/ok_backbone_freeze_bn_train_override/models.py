from torch import nn

from backbone import Encoder, pretrained_state


class SegModel(nn.Module):
    def __init__(self, encoder, n_classes):
        super().__init__()
        self.encoder = encoder
        self.classifier = nn.Conv2d(8, n_classes, 1)

    def forward(self, x):
        return self.classifier(self.encoder(x))


def build_model(cfg):
    encoder = Encoder(width=8, norm_eval=cfg["norm_eval"])
    if cfg["pretrained"]:
        encoder.load_state_dict(pretrained_state(encoder))
    return SegModel(encoder, cfg["num_classes"])
