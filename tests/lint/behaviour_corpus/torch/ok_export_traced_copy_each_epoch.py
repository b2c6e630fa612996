"""Each epoch the best model is exported with torch.jit.trace for the serving team. The export
helper traces a deep copy put in eval mode, so the live model is never switched out of train mode
and its BatchNorm statistics keep updating."""
import copy
import io

import torch
import torch.nn.functional as F
from torch import nn


class Tagger(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU())
        self.fc = nn.Linear(6, 2)

    def forward(self, x):
        return self.fc(self.features(x).mean(dim=(2, 3)))


def export_snapshot(model, example):
    snapshot = copy.deepcopy(model)
    snapshot.eval()
    traced = torch.jit.trace(snapshot, example)
    buffer = io.BytesIO()
    torch.jit.save(traced, buffer)
    return buffer.getvalue()


def main(epochs=3):
    torch.manual_seed(0)
    model = Tagger()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    loader = [(torch.randn(4, 3, 6, 6) + 1, torch.randint(0, 2, (4,))) for _ in range(2)]
    model.train()
    best, exported = float("inf"), None
    for epoch in range(epochs):
        epoch_loss = 0.0
        for x, y in loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            epoch_loss += loss.item()
        if epoch_loss < best:
            best = epoch_loss
            exported = export_snapshot(model, loader[0][0])
    tracked = int(model.features[1].num_batches_tracked)
    print("exported", len(exported), "bytes")
    print("BN-GROUND-TRUTH:", "updated" if tracked == epochs * len(loader) else "stale")


if __name__ == "__main__":
    main()
