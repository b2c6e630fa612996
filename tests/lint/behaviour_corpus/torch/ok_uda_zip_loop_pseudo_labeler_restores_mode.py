"""Unsupervised domain adaptation by self-training. Each step walks zip(source_loader, target_loader):
the target branch asks a PseudoLabeler object for confident labels (it records model.training, calls
self.model.eval() and predicts under no_grad, then restores the recorded mode), then the step trains
on the labelled source batch and the pseudo-labelled target batch in train mode; adapt() calls
model.train() at the top of every epoch."""
import argparse

import torch
from torch import nn


class FeatureClassifier(nn.Module):
    def __init__(self, d_in=10, d_hidden=32, classes=3):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(d_in, d_hidden), nn.BatchNorm1d(d_hidden), nn.ReLU())
        self.classifier = nn.Linear(d_hidden, classes)

    def forward(self, x):
        return self.classifier(self.features(x))


class PseudoLabeler:
    def __init__(self, model, threshold):
        self.model = model
        self.threshold = threshold

    @torch.no_grad()
    def __call__(self, x):
        was_training = self.model.training
        self.model.eval()
        probs = self.model(x).softmax(1)
        self.model.train(was_training)
        conf, labels = probs.max(1)
        return labels, conf >= self.threshold


def domain_batches(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(32, 10, generator=g) + shift
        out.append((x, (x[:, :3] - shift).argmax(1)))
    return out


def adapt(model, source_loader, target_loader, args):
    labeler = PseudoLabeler(model, args.threshold)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for (xs, ys), (xt, _) in zip(source_loader, target_loader):
            yt, mask = labeler(xt)
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(xs), ys)
            if mask.any():
                loss = loss + args.target_weight * nn.functional.cross_entropy(model(xt[mask]), yt[mask])
            loss.backward()
            optimizer.step()
            total += loss.item()
        print(f"epoch {epoch} loss {total / len(source_loader):.3f}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.03)
    parser.add_argument("--threshold", type=float, default=0.4)
    parser.add_argument("--target-weight", type=float, default=0.5)
    args = parser.parse_args([])
    torch.manual_seed(0)
    model = FeatureClassifier()
    source = domain_batches(6, shift=1.0, seed=1)
    target = domain_batches(6, shift=2.5, seed=2)
    bn = model.features[1]
    init_mean = bn.running_mean.clone()
    adapt(model, source, target, args)
    moved = (bn.running_mean - init_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-3 else "frozen")


if __name__ == "__main__":
    main()
