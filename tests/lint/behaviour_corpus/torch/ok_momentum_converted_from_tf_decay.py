"""Port of a TensorFlow model: the TF decay (0.997) is converted to PyTorch's momentum (1 - decay)."""
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn


@dataclass
class PortConfig:
    bn_decay: float = 0.997   # value from the original TF checkpoint's hparams
    bn_epsilon: float = 1e-3
    width: int = 8


def make_norm_layer(cfg):
    # TF: moving = decay * moving + (1 - decay) * batch; PyTorch weighs the batch by momentum.
    return partial(nn.BatchNorm2d, momentum=1.0 - cfg.bn_decay, eps=cfg.bn_epsilon)


class PortedNet(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        norm = make_norm_layer(cfg)
        self.conv = nn.Conv2d(3, cfg.width, 3, padding=1, bias=False)
        self.bn = norm(cfg.width)
        self.fc = nn.Linear(cfg.width, 2)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = PortedNet(PortConfig())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    batch_means = []
    for _ in range(3):
        images = torch.randn(8, 3, 8, 8) + 3.0
        with torch.no_grad():
            batch_means.append(model.conv(images).mean(dim=(0, 2, 3)))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), torch.randint(0, 2, (8,))).backward()
        optimizer.step()
    # a slow average moves only a small fraction of the way toward the batch mean
    fraction = (model.bn.running_mean.abs().sum() / batch_means[-1].abs().sum()).item()
    print("BN-GROUND-TRUTH:", "smooth-average" if 0 < fraction < 0.05 else "jumped")
