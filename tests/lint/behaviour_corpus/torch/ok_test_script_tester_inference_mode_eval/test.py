"""python test.py --ckpt best.pth  (also called from train.py after training)"""
import argparse

import torch

from model import DensityRegressor
from utils import load_checkpoint, make_split


class Tester:
    def __init__(self, args):
        self.args = args
        self.model = DensityRegressor()
        load_checkpoint(self.model, args.ckpt)
        self.loader = make_split(args.seed, n_batches=4, shift=args.test_shift)

    def run(self):
        errors = []
        self.model.eval()
        with torch.inference_mode():
            for x, y in self.loader:
                errors.append((self.model(x) - y).abs().mean().item())
        return sum(errors) / len(errors)


def parse_args(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--ckpt", default="best.pth")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--test-shift", type=float, default=3.0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    print("MAE", Tester(parse_args()).run())
