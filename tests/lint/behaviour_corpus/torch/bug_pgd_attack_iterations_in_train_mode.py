"""Madry-style adversarial training script (argparse, LinfPGD attack class, train_epoch/evaluate).
train_epoch() puts the network in train mode and, for every batch, lets the attack craft the
adversarial batch with `attack.perturb(x, y)`: 7 PGD iterations, each a full forward through the
network. The network is still in train mode during those iterations, so every BatchNorm folds each
intermediate perturbed batch into its running statistics (num_batches_tracked = 8 x optimizer
steps): the running statistics are dominated by half-finished attack iterates instead of the
batches the network is trained on."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


def get_args():
    parser = argparse.ArgumentParser(description="PGD adversarial training on synthetic tabular data")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--epsilon", type=float, default=0.5)
    parser.add_argument("--step-size", type=float, default=0.2)
    parser.add_argument("--num-steps", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args([])


class TabularNet(nn.Module):
    def __init__(self, n_in=10, width=32, n_out=3):
        super().__init__()
        self.fc1 = nn.Linear(n_in, width)
        self.bn1 = nn.BatchNorm1d(width)
        self.fc2 = nn.Linear(width, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.bn1(self.fc1(x))))


class LinfPGD:
    def __init__(self, model, epsilon, step_size, num_steps):
        self.model = model
        self.epsilon = epsilon
        self.step_size = step_size
        self.num_steps = num_steps

    def perturb(self, x, y):
        delta = torch.empty_like(x).uniform_(-self.epsilon, self.epsilon)
        for _ in range(self.num_steps):
            delta.requires_grad_(True)
            loss = F.cross_entropy(self.model(x + delta), y)
            (grad,) = torch.autograd.grad(loss, delta)
            delta = (delta + self.step_size * grad.sign()).clamp(-self.epsilon, self.epsilon).detach()
        return (x + delta).detach()


def make_loader(n_batches, batch_size, gen, shift=0.0):
    batches = []
    for _ in range(n_batches):
        x = torch.randn(batch_size, 10, generator=gen) * 1.5 + 2.0 + shift
        y = (x[:, :3].sum(1) > 6.0 + 3 * shift).long() + (x[:, 3] > 2.0 + shift).long()
        batches.append((x, y))
    return batches


def train_epoch(model, attack, loader, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        x_adv = attack.perturb(x, y)
        loss = F.cross_entropy(model(x_adv), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / sum(len(y) for _, y in loader)


def main():
    args = get_args()
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    train_loader = make_loader(6, args.batch_size, gen)
    test_loader = make_loader(2, args.batch_size, gen)
    model = TabularNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    attack = LinfPGD(model, args.epsilon, args.step_size, args.num_steps)
    steps = 0
    for epoch in range(args.epochs):
        loss = train_epoch(model, attack, train_loader, optimizer)
        steps += len(train_loader)
        print(f"epoch {epoch} adv loss {loss:.3f} clean acc {evaluate(model, test_loader):.3f}")

    bn = model.bn1
    tracked = int(bn.num_batches_tracked)
    print("optimizer steps", steps, "num_batches_tracked", tracked)
    if torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean)):
        behaviour = "frozen"
    elif tracked == steps:
        behaviour = "updated"
    elif tracked > steps:
        behaviour = "contaminated"
    else:
        behaviour = "stale"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
