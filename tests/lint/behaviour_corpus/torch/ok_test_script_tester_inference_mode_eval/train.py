"""python train.py: trains, saves best.pth, then runs the test script's Tester on it."""
import os
import sys
import tempfile

import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import DensityRegressor  # noqa: E402
from test import Tester, parse_args  # noqa: E402
from utils import make_split, save_checkpoint  # noqa: E402

CFG = {"epochs": 3, "lr": 0.02, "seed": 0}


def main():
    torch.manual_seed(CFG["seed"])
    model = DensityRegressor()
    optimizer = torch.optim.Adam(model.parameters(), lr=CFG["lr"])
    train_data = make_split(CFG["seed"], n_batches=5)
    for epoch in range(CFG["epochs"]):
        model.train()
        for x, y in train_data:
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "best.pth")
        save_checkpoint(model, optimizer, CFG["epochs"], ckpt)
        tester = Tester(parse_args(["--ckpt", ckpt]))
        trained_mean = tester.model.features[1].running_mean.clone()
        mae = tester.run()
        after_mean = tester.model.features[1].running_mean
    print(f"test MAE {mae:.3f}")
    drift = (after_mean - trained_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-4 else "untouched")


if __name__ == "__main__":
    main()
