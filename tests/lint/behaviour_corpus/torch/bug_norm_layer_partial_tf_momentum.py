"""torchvision-style norm_layer factory built with functools.partial from a config ported from TF:
momentum=0.99 is TF's decay, so every PyTorch running mean follows the last batch."""
import functools

import torch
from torch import nn

HPARAMS = {"bn_momentum": 0.99, "bn_eps": 1e-3, "channels": (8, 16), "num_classes": 3}


def conv_bn(cin, cout, norm_layer):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), norm_layer(cout), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    def __init__(self, hparams, norm_layer=None):
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        c1, c2 = hparams["channels"]
        self.features = nn.Sequential(conv_bn(3, c1, norm_layer), conv_bn(c1, c2, norm_layer))
        self.classifier = nn.Linear(c2, hparams["num_classes"])

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def build(hparams):
    norm_layer = functools.partial(nn.BatchNorm2d, momentum=hparams["bn_momentum"], eps=hparams["bn_eps"])
    return Encoder(hparams, norm_layer=norm_layer)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = build(HPARAMS)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    bn = model.features[0][1]
    model.train()
    for step in range(3):
        images = torch.randn(8, 3, 8, 8) + 2.0 * step
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), torch.randint(0, 3, (8,))).backward()
        optimizer.step()
        with torch.no_grad():
            last_batch_mean = model.features[0][0](images).mean(dim=(0, 2, 3))
    jumped = torch.allclose(bn.running_mean, last_batch_mean, rtol=0.05, atol=0.05)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")
