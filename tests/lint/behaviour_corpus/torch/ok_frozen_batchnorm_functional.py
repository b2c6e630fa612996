"""Detectron-style FrozenBatchNorm2d (buffers only, F.batch_norm training=False) inside a trained detector."""
import torch
import torch.nn.functional as F
from torch import nn


class FrozenBatchNorm2d(nn.Module):
    """BatchNorm2d where the batch statistics and the affine parameters are fixed."""

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.ones(num_features))
        self.register_buffer("bias", torch.zeros(num_features))
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features) - eps)

    def forward(self, x):
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False,
                            eps=self.eps)


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1, bias=False)
        self.stem_norm = FrozenBatchNorm2d(4)
        self.box_head = nn.Conv2d(4, 4, 1)

    def forward(self, images):
        return self.box_head(F.relu(self.stem_norm(self.stem(images))))


if __name__ == "__main__":
    torch.manual_seed(0)
    det = Detector()
    det.stem_norm.running_mean.fill_(0.3)  # stands in for loading ImageNet statistics
    opt = torch.optim.SGD(det.parameters(), lr=0.01)
    det.train()
    for _ in range(3):
        opt.zero_grad()
        det(torch.randn(2, 3, 8, 8)).abs().mean().backward()
        opt.step()
    kept = torch.allclose(det.stem_norm.running_mean, torch.full((4,), 0.3))
    print("BN-GROUND-TRUTH:", "frozen-by-design" if kept else "updated")
