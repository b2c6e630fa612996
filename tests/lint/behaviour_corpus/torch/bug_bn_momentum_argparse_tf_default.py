"""Port of a TensorFlow training script: the command line keeps TF's --bn-momentum default of 0.99
(TF's decay), which PyTorch reads as the weight of the NEW batch. The running statistics become
the last batch's statistics instead of a smooth average."""
import argparse

import torch
from torch import nn


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="audio tagger")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--bn-momentum", type=float, default=0.99, help="batch norm moving-average momentum")
    parser.add_argument("--channels", type=int, default=8)
    return parser.parse_args(argv)


class AudioTagger(nn.Module):
    def __init__(self, channels, n_tags, bn_momentum):
        super().__init__()
        self.conv = nn.Conv1d(1, channels, 5, padding=2)
        self.bn = nn.BatchNorm1d(channels, momentum=bn_momentum)
        self.head = nn.Linear(channels, n_tags)

    def forward(self, wave):
        return self.head(torch.relu(self.bn(self.conv(wave))).mean(dim=2))


def main():
    args = get_args([])
    torch.manual_seed(0)
    model = AudioTagger(args.channels, n_tags=4, bn_momentum=args.bn_momentum)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loader = [(torch.randn(8, 1, 32) * (1 + i), torch.randint(0, 2, (8, 4)).float()) for i in range(4)]
    for epoch in range(args.epochs):
        model.train()
        for wave, tags in loader:
            optimizer.zero_grad()
            nn.functional.binary_cross_entropy_with_logits(model(wave), tags).backward()
            optimizer.step()
    # the running variance equals (almost) the last batch's variance: no averaging across batches
    with torch.no_grad():
        last = model.conv(loader[-1][0]).transpose(0, 1).reshape(args.channels, -1)
    jumped = torch.allclose(model.bn.running_var, last.var(dim=1), rtol=0.05)
    print("BN-GROUND-TRUTH:", "jumped" if jumped else "smooth-average")


if __name__ == "__main__":
    main()
