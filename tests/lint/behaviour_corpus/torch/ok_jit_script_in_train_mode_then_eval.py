"""TorchScript via torch.jit.script (not trace) right after the model is built, still in train mode:
scripting compiles the `if self.training` branches of BatchNorm, so the scripted module trains with
batch statistics, and scripted.eval() before export makes it use the running statistics."""
import io

import torch
import torch.nn.functional as F
from torch import nn


class KeypointHead(nn.Module):
    def __init__(self, channels=8, keypoints=4):
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(channels)
        self.out = nn.Conv2d(channels, keypoints, 1)

    def forward(self, x):
        return self.out(F.relu(self.bn(self.conv(x))))


def train(scripted, batches, lr=0.05):
    optimizer = torch.optim.SGD(scripted.parameters(), lr=lr, momentum=0.9)
    scripted.train()
    for images, heatmaps in batches:
        loss = F.mse_loss(scripted(images), heatmaps)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return loss.item()


def export(scripted):
    scripted.eval()
    buffer = io.BytesIO()
    torch.jit.save(scripted, buffer)
    buffer.seek(0)
    return torch.jit.load(buffer)


def main():
    torch.manual_seed(0)
    model = KeypointHead()
    scripted = torch.jit.script(model)
    batches = [(torch.randn(8, 3, 8, 8) + 1.0, torch.rand(8, 4, 8, 8)) for _ in range(4)]
    print("final loss", train(scripted, batches))
    served = export(scripted)
    probe = torch.randn(4, 3, 8, 8) + 1.0
    with torch.no_grad():
        alone = served(probe[:1])
        in_batch = served(probe)[:1]
    uses_running_stats = torch.allclose(alone, in_batch, atol=1e-5)
    updated = int(model.bn.num_batches_tracked) == len(batches)
    print("BN-GROUND-TRUTH:", "updated" if uses_running_stats and updated else "eval-uses-batch-stats")


if __name__ == "__main__":
    main()
