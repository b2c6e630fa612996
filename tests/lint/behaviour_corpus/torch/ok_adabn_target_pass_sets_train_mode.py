"""Unsupervised domain adaptation with AdaBN: train on the source domain, report source validation
accuracy, then re-estimate every BatchNorm's statistics on unlabelled target-domain batches
(reset_running_stats + momentum=None cumulative average, forward passes under no_grad) and evaluate
on the target domain. adapt_bn() deliberately puts the model in train mode for its no_grad target
forwards (no optimizer, no backward: only the statistics move) and the following validate() switches
to eval: the target evaluation uses statistics estimated on the target domain."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--adapt-batches", type=int, default=4)
    p.add_argument("--lr", type=float, default=0.05)
    return p.parse_args([])


class Classifier(nn.Module):
    def __init__(self, n_in=6, width=16, n_classes=2):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(n_in, width), nn.BatchNorm1d(width), nn.ReLU())
        self.head = nn.Linear(width, n_classes)

    def forward(self, x):
        return self.head(self.features(x))


def domain_batches(n, gen, scale, offset):
    out = []
    for _ in range(n):
        x = torch.randn(32, 6, generator=gen) * scale + offset
        out.append((x, ((x - offset)[:, 0] + (x - offset)[:, 1] > 0).long()))
    return out


def train_source(model, batches, args):
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(args.epochs):
        model.train()
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()


@torch.no_grad()
def validate(model, batches):
    model.eval()
    hits = sum((model(x).argmax(1) == y).sum().item() for x, y in batches)
    return hits / sum(len(y) for _, y in batches)


@torch.no_grad()
def adapt_bn(model, target_batches, max_batches):
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm1d)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for i, (x, _) in enumerate(target_batches):
        if i == max_batches:
            break
        model(x)
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum


def main():
    args = parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    source = domain_batches(5, gen, scale=1.0, offset=1.0)
    source_val = domain_batches(2, gen, scale=1.0, offset=1.0)
    target = domain_batches(4, gen, scale=2.5, offset=-3.0)
    model = Classifier()
    train_source(model, source, args)
    print("source val acc", validate(model, source_val))
    adapt_bn(model, target, args.adapt_batches)
    print("target acc", validate(model, target))

    bn = model.features[1]
    with torch.no_grad():
        target_feats = torch.cat([model.features[0](x) for x, _ in target[:args.adapt_batches]])
    if torch.allclose(bn.running_mean, target_feats.mean(0), atol=1e-4):
        behaviour = "adapted-to-target"
    elif torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean)) and \
            torch.allclose(bn.running_var, torch.ones_like(bn.running_var)):
        behaviour = "reset"
    else:
        behaviour = "stale"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
