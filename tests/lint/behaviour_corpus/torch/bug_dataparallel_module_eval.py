"""DataParallel training: validation puts model.module in eval, the loop called model.train() before it."""
import torch
from torch import nn


def build():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(4, 2))
    model = nn.DataParallel(net)  # runs the wrapped module directly when no GPU is visible
    return model


def run_validation(model, batches):
    model.module.eval()
    hits = 0
    with torch.no_grad():
        for x, y in batches:
            hits += (model(x).argmax(1) == y).sum().item()
    return hits / sum(len(y) for _, y in batches)


def main(epochs=3):
    torch.manual_seed(0)
    model = build()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    train = [(torch.randn(8, 3, 6, 6) + 2, torch.randint(0, 2, (8,))) for _ in range(3)]
    val = [(torch.randn(8, 3, 6, 6), torch.randint(0, 2, (8,)))]
    bn = model.module[1]
    counts = []
    model.train()
    for epoch in range(epochs):
        for x, y in train:
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
        counts.append(int(bn.num_batches_tracked))
        print("epoch", epoch, "val acc", run_validation(model, val))
    print("BN-GROUND-TRUTH:", "stale" if counts == [3, 3, 3] else "updated")


if __name__ == "__main__":
    main()
