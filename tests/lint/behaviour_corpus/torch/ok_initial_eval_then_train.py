"""Fine-tuning: measure the pretrained accuracy in eval mode first; train_epoch() switches to train."""
import torch
from torch import nn


def evaluate(model, batches):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(-1) == y).float().mean().item() for x, y in batches) / len(batches)


def train_epoch(model, batches, optimizer):
    model.train()
    for x, y in batches:
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 3))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    data = [(torch.randn(8, 6) + 1, torch.randint(0, 3, (8,))) for _ in range(2)]
    model.eval()
    print("initial accuracy", evaluate(model, data))
    start = model[1].running_mean.clone()
    for epoch in range(2):
        train_epoch(model, data, optimizer)
        evaluate(model, data)
    print("BN-GROUND-TRUTH:", "updated" if not torch.equal(start, model[1].running_mean) else "frozen")
