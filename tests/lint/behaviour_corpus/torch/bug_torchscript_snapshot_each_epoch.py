"""Each epoch ends with export_snapshot(): the model is put in eval() and traced to TorchScript for
the serving team. The training loop set model.train() once before the epochs, so every epoch after
the first trains with BatchNorm in inference mode."""
import os
import tempfile

import torch
from torch import nn


class KeypointHead(nn.Module):
    def __init__(self, channels=8, keypoints=2):
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU())
        self.regress = nn.Linear(channels, keypoints * 2)

    def forward(self, x):
        return self.regress(self.backbone(x).mean(dim=(2, 3)))


def export_snapshot(model, example, out_dir, epoch):
    """Trace the current weights so the serving side can pick up the latest epoch."""
    model.eval()
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    path = os.path.join(out_dir, f"keypoints_epoch{epoch}.pt")
    traced.save(path)
    return path


def train(model, loader, out_dir, epochs=3):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    bn = model.backbone[1]
    tracked = []
    model.train()
    for epoch in range(epochs):
        for images, targets in loader:
            optimizer.zero_grad()
            nn.functional.smooth_l1_loss(model(images), targets).backward()
            optimizer.step()
        tracked.append(int(bn.num_batches_tracked))
        export_snapshot(model, loader[0][0][:1], out_dir, epoch)
    return tracked


def main():
    torch.manual_seed(0)
    loader = [(torch.rand(4, 3, 8, 8) * 2, torch.rand(4, 4)) for _ in range(3)]
    with tempfile.TemporaryDirectory() as out_dir:
        tracked = train(KeypointHead(), loader, out_dir)
    print("BN-GROUND-TRUTH:", "stale" if tracked == [3, 3, 3] else "updated")


if __name__ == "__main__":
    main()
