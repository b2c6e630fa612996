"""Self-supervised (reconstruction) pretraining with per-epoch validation."""
import torch
from torch import nn


def evaluate(model, batches):
    model.eval()
    with torch.no_grad():
        return sum(nn.functional.mse_loss(model(x), x).item() for x in batches) / len(batches)


def pretrain(model, train_batches, val_batches, epochs=3):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(epochs):
        model.train()
        for x in train_batches:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), x).backward()
            optimizer.step()
        print("pretrain epoch", epoch, "val", evaluate(model, val_batches))
