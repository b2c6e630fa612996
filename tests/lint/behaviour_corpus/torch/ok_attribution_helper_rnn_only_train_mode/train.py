"""python train.py [--epochs 3] : train, validate, write saliency maps for a few windows, save."""
import argparse
import os
import tempfile

import torch

from engine import evaluate, train_one_epoch
from explain import integrated_gradients
from models import SensorNet


def windows(seed, n_batches, batch=24, channels=4, length=20):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n_batches):
        x = torch.randn(batch, channels, length, generator=g) + 0.8
        y = (x[:, 0].mean(1) > 0.8).long() + (x[:, 1].mean(1) > 1.0).long()
        out.append((x, y))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--explain-n", type=int, default=8)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = SensorNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    train_set, val_set = windows(0, 5), windows(1, 2)
    for epoch in range(args.epochs):
        loss = train_one_epoch(model, train_set, optimizer)
        print(f"epoch {epoch} loss {loss:.3f} val acc {evaluate(model, val_set):.3f}")

    bn = model.frontend[1]
    trained_mean, trained_var = bn.running_mean.clone(), bn.running_var.clone()
    x, y = val_set[0][0][: args.explain_n], val_set[0][1][: args.explain_n]
    saliency = integrated_gradients(model, x, y)
    print("saliency per channel", saliency.abs().mean((0, 2)).tolist())
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(model.state_dict(), os.path.join(tmp, "sensor_net.pth"))

    drift = max((bn.running_mean - trained_mean).abs().max().item(),
                (bn.running_var - trained_var).abs().max().item())
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-4 else "untouched")


if __name__ == "__main__":
    main()
