"""Model converted with nn.SyncBatchNorm.convert_sync_batchnorm (multi-GPU recipe) trained in a single
process: SyncBatchNorm falls back to ordinary batch norm and its running statistics update normally."""
import os

import torch
import torch.distributed as dist
from torch import nn


def build_model():
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))


def setup(model):
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
    model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    return model


def train(model, batches, epochs=2):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02)
    for _ in range(epochs):
        model.train()
        for images, labels in batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = setup(build_model())
    bn = model[1]
    assert isinstance(bn, nn.SyncBatchNorm)
    batches = [(torch.randn(8, 3, 8, 8) + 2.0, torch.randint(0, 5, (8,))) for _ in range(3)]
    train(model, batches)
    updated = bn.running_mean.abs().mean().item() > 0.05 and bn.num_batches_tracked.item() == 6
    print("BN-GROUND-TRUTH:", "updated" if updated else "frozen")
