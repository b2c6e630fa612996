"""1-D convolutional encoder for audio / sensor windows, plus the norm-freezing helper
used when the encoder comes from a pretrained checkpoint."""
from torch import nn


def conv_block(c_in, c_out):
    return nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1, bias=False),
                         nn.BatchNorm1d(c_out), nn.ReLU())


class SignalEncoder(nn.Module):
    def __init__(self, channels=(2, 8, 16)):
        super().__init__()
        self.blocks = nn.Sequential(*[conv_block(a, b) for a, b in zip(channels[:-1], channels[1:])])
        self.out_dim = channels[-1]

    def forward(self, x):
        return self.blocks(x).mean(dim=-1)


def freeze_bn(module):
    """Keep pretrained normalisation statistics and affine parameters fixed."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            for p in m.parameters():
                p.requires_grad_(False)
