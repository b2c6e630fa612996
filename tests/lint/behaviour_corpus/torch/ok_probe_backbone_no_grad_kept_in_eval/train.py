"""Linear probe of a pretrained backbone: python train.py --epochs 3"""
import argparse

import torch

from models import LinearProbe, TinyResNet
from trainer import Trainer
from utils import fake_pretraining, load_checkpoint


def get_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--num-classes", type=int, default=5)
    return p.parse_args()


def main():
    args = get_args()
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    source = [torch.randn(8, 3, 8, 8, generator=g) for _ in range(5)]
    ckpt = fake_pretraining(TinyResNet(), source)
    backbone = load_checkpoint(TinyResNet(), ckpt)
    pretrained = {k: v.clone() for k, v in backbone.state_dict().items() if "running" in k}

    model = LinearProbe(backbone, args.num_classes)
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=args.lr, momentum=0.9)
    def split(n):
        return [(torch.randn(8, 3, 8, 8, generator=g) * 1.5 + 1.0,
                 torch.randint(0, args.num_classes, (8,), generator=g)) for _ in range(n)]
    Trainer(model, optimizer, split(4), split(2)).fit(args.epochs)

    now = backbone.state_dict()
    drift = max((now[k] - v).abs().max().item() for k, v in pretrained.items())
    print(f"backbone BN running-stat drift from the checkpoint: {drift:.4f}")
    print("BN-GROUND-TRUTH:", "contaminated" if drift > 1e-6 else "frozen-by-design")


if __name__ == "__main__":
    main()
