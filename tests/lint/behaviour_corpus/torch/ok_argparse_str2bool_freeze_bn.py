"""Same trainer, but --freeze-bn is parsed with a str2bool converter: `--freeze-bn False` really
is False, so the from-scratch network trains with BatchNorm in training mode. The freeze branch is
kept for fine-tuning runs that pass --freeze-bn true with --pretrained."""
import argparse
import shlex

import torch
import torch.nn.functional as F
from torch import nn

# copied from scripts/train_scratch.sh
LAUNCH = "--epochs 3 --lr 0.05 --batch-size 16 --freeze-bn False --pretrained ''"


def str2bool(value):
    if isinstance(value, bool):
        return value
    if value.lower() in ("yes", "true", "t", "y", "1"):
        return True
    if value.lower() in ("no", "false", "f", "n", "0"):
        return False
    raise argparse.ArgumentTypeError(f"boolean value expected, got {value!r}")


def build_parser():
    parser = argparse.ArgumentParser(description="image classifier training")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--pretrained", type=str, default="")
    parser.add_argument("--freeze-bn", type=str2bool, default=False,
                        help="keep BatchNorm statistics of the backbone fixed (fine-tuning)")
    return parser


class ConvNet(nn.Module):
    def __init__(self, num_classes=5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.head(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def set_bn_eval(module):
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        module.eval()


class Trainer:
    def __init__(self, args, model, loader):
        self.args = args
        self.model = model
        self.loader = loader
        self.optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)

    def train_epoch(self):
        self.model.train()
        if self.args.freeze_bn:
            self.model.apply(set_bn_eval)
        for images, labels in self.loader:
            self.optimizer.zero_grad()
            F.cross_entropy(self.model(images), labels).backward()
            self.optimizer.step()

    def fit(self):
        for epoch in range(self.args.epochs):
            self.train_epoch()


def main():
    args = build_parser().parse_args(shlex.split(LAUNCH))
    torch.manual_seed(0)
    loader = [(torch.randn(args.batch_size, 3, 8, 8) * 2 + 1.5, torch.randint(0, 5, (args.batch_size,)))
              for _ in range(4)]
    model = ConvNet()
    if args.pretrained:
        model.load_state_dict(torch.load(args.pretrained))
    Trainer(args, model, loader).fit()
    bn = model.features[1]
    if int(bn.num_batches_tracked) == 0 and torch.allclose(bn.running_mean, torch.zeros(8)):
        behaviour = "frozen"
    elif int(bn.num_batches_tracked) == args.epochs * len(loader):
        behaviour = "updated"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
