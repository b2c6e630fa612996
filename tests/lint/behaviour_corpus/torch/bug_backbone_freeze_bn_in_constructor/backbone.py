"""Pretrained encoder used by the segmentation-style head in models.py."""
import torch
from torch import nn


def freeze_bn(module):
    """Keep the ImageNet-style statistics and affine weights of every BatchNorm fixed."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad = False


class Encoder(nn.Module):
    def __init__(self, in_ch=3, width=8, norm_eval=True):
        super().__init__()
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(in_ch, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        if self.norm_eval:
            freeze_bn(self)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(x)))


def pretrained_state(encoder):
    """Stand-in for a downloaded checkpoint: deterministic weights and statistics."""
    gen = torch.Generator().manual_seed(123)
    state = {}
    for name, tensor in encoder.state_dict().items():
        if name.endswith("running_mean"):
            state[name] = torch.full_like(tensor, 0.25)
        elif name.endswith("running_var"):
            state[name] = torch.full_like(tensor, 2.0)
        elif name.endswith("num_batches_tracked"):
            state[name] = torch.tensor(1000)
        else:
            state[name] = torch.randn(tensor.shape, generator=gen) * 0.2
    return state
