"""Baseline accuracy in eval mode, then the loop re-enables training with model.train(mode=True)."""
import torch
from torch import nn

if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    batches = [(torch.randn(8, 4) + 2, torch.randint(0, 2, (8,))) for _ in range(3)]
    model.train(False)
    with torch.no_grad():
        baseline = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    print("baseline correct:", baseline)
    start = model[1].running_mean.clone()
    for epoch in range(2):
        model.train(mode=True)
        for x, y in batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    print("BN-GROUND-TRUTH:", "updated" if not torch.equal(start, model[1].running_mean) else "frozen")
