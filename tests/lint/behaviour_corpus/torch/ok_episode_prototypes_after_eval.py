"""Prototypical-network training with episodic evaluation on novel classes. evaluate_episodes()
calls encoder.eval() before it builds each episode's class prototypes from the support set with a
@torch.no_grad() helper, so neither the support nor the query images reach the BN running
statistics; train_epoch() switches back with encoder.train()."""
import argparse

import torch
from torch import nn


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--ways", type=int, default=3)
    p.add_argument("--shots", type=int, default=4)
    p.add_argument("--queries", type=int, default=5)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--episodes-per-epoch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-2)
    return p.parse_args(argv)


class ConvEncoder(nn.Module):
    def __init__(self, channels=6, dim=8):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(channels, dim, 3, padding=1), nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.body(x)


class EpisodeSampler:
    def __init__(self, n_classes, offset, seed):
        self.centres = torch.randn(n_classes, 1, 8, 8, generator=torch.Generator().manual_seed(seed)) + offset
        self.g = torch.Generator().manual_seed(seed + 1)

    def sample(self, ways, shots, queries):
        classes = torch.randperm(len(self.centres), generator=self.g)[:ways]
        def draw(k):
            x = torch.cat([self.centres[c] + 0.5 * torch.randn(k, 1, 8, 8, generator=self.g) for c in classes])
            return x, torch.arange(ways).repeat_interleave(k)
        return draw(shots), draw(queries)


def prototypes(embeddings, labels, ways):
    return torch.stack([embeddings[labels == c].mean(0) for c in range(ways)])


@torch.no_grad()
def build_prototypes(encoder, support_x, support_y, ways):
    return prototypes(encoder(support_x), support_y, ways)


def train_epoch(encoder, optimizer, sampler, args):
    encoder.train()
    for _ in range(args.episodes_per_epoch):
        (sx, sy), (qx, qy) = sampler.sample(args.ways, args.shots, args.queries)
        emb = encoder(torch.cat([sx, qx]))
        protos = prototypes(emb[:len(sx)], sy, args.ways)
        logits = -torch.cdist(emb[len(sx):], protos)
        optimizer.zero_grad()
        nn.functional.cross_entropy(logits, qy).backward()
        optimizer.step()


def evaluate_episodes(encoder, sampler, args, n_episodes=3):
    accs = []
    for _ in range(n_episodes):
        (sx, sy), (qx, qy) = sampler.sample(args.ways, args.shots, args.queries)
        encoder.eval()
        protos = build_prototypes(encoder, sx, sy, args.ways)
        with torch.no_grad():
            logits = -torch.cdist(encoder(qx), protos)
        accs.append((logits.argmax(1) == qy).float().mean().item())
    return sum(accs) / len(accs)


def main():
    args = parse_args([])
    torch.manual_seed(0)
    encoder = ConvEncoder()
    optimizer = torch.optim.Adam(encoder.parameters(), lr=args.lr)
    base = EpisodeSampler(n_classes=8, offset=0.0, seed=10)
    novel = EpisodeSampler(n_classes=5, offset=3.0, seed=20)
    norm = encoder.body[1]
    moved = []
    for epoch in range(args.epochs):
        train_epoch(encoder, optimizer, base, args)
        before = norm.running_mean.clone(), int(norm.num_batches_tracked)
        acc = evaluate_episodes(encoder, novel, args)
        moved.append(not torch.equal(before[0], norm.running_mean) or before[1] != int(norm.num_batches_tracked))
        print(f"epoch {epoch} novel-class episode acc {acc:.3f}")
    trained = int(norm.num_batches_tracked) >= args.epochs * args.episodes_per_epoch
    print("BN-GROUND-TRUTH:", "contaminated" if any(moved) else ("updated" if trained else "frozen"))


if __name__ == "__main__":
    main()
