"""python train.py"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import config  # noqa: E402
from models import SmallConvNet  # noqa: E402


def batch_at(step):
    gen = torch.Generator().manual_seed(step)
    x = torch.randn(config.BATCH_SIZE, config.IN_CHANNELS, config.IMAGE_SIZE, config.IMAGE_SIZE,
                    generator=gen) + 0.5 * step
    y = torch.randint(0, config.NUM_CLASSES, (config.BATCH_SIZE,), generator=gen)
    return x, y


def main():
    torch.manual_seed(0)
    model = SmallConvNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.LEARNING_RATE)
    model.train()
    for step in range(config.STEPS):
        x, y = batch_at(step)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    bn = model.stem[1]
    with torch.no_grad():
        last_mean = model.stem[0](x).mean(dim=(0, 2, 3))
    gap = (bn.running_mean - last_mean).abs().max().item()
    jumped = gap < 0.05 * last_mean.abs().max().item() + 1e-3
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")


if __name__ == "__main__":
    main()
