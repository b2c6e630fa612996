"""Deployment-first template: the network is compiled with torch.jit.script right after
construction, from a model put in eval() for a shape/latency smoke test under no_grad, and the
ScriptModule is then what the training loop optimizes (its parameters are the module's). fit() calls
net.train() before its epochs: torch.jit.script keeps both BatchNorm branches, so the scripted BN
switches to batch statistics and updates its running statistics at every step."""
import time

import torch
import torch.nn.functional as F
from torch import nn


class KeypointNet(nn.Module):
    def __init__(self, joints=4):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())
        self.regress = nn.Linear(8, joints * 2)

    def forward(self, x):
        return self.regress(self.features(x).mean(dim=(2, 3)))


def smoke_test(net, shape=(2, 1, 12, 12)):
    start = time.perf_counter()
    with torch.no_grad():
        out = net(torch.zeros(shape))
    print(f"smoke test {tuple(out.shape)} in {1000 * (time.perf_counter() - start):.1f} ms")


def fit(net, batches, epochs=3, lr=0.01):
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    steps = 0
    net.train()
    for epoch in range(epochs):
        for images, coords in batches:
            loss = F.smooth_l1_loss(net(images), coords)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        print(f"epoch {epoch} loss {loss.item():.4f}")
    return steps


def main():
    torch.manual_seed(0)
    model = KeypointNet().eval()
    scripted = torch.jit.script(model)
    smoke_test(scripted)
    batches = [(torch.randn(6, 1, 12, 12) * 2 + 1, torch.rand(6, 8)) for _ in range(4)]
    steps = fit(scripted, batches)
    tracked = int(model.features[1].num_batches_tracked)
    print("BN-GROUND-TRUTH:", "updated" if tracked == steps else ("frozen" if tracked == 0 else "stale"))


if __name__ == "__main__":
    main()
