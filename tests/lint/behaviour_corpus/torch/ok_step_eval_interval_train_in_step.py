"""Iteration-based training (no epochs): evaluation every eval_interval steps; train_step() itself
puts the model back in train mode before every optimizer step."""
import itertools

import torch
from torch import nn


def infinite_batches(seed=0):
    gen = torch.Generator().manual_seed(seed)
    while True:
        x = torch.randn(16, 4, generator=gen) * 2 + 1
        yield x, (x[:, 0] > 1).long()


def make_classifier():
    return nn.Sequential(nn.Linear(4, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))


def train_step(model, optimizer, batch):
    model.train()
    inputs, targets = batch
    optimizer.zero_grad()
    loss = nn.functional.cross_entropy(model(inputs), targets)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def run_eval(model, batches):
    model.eval()
    return sum((model(x).argmax(1) == y).float().mean().item() for x, y in batches) / len(batches)


def main(max_steps=9, eval_interval=3):
    torch.manual_seed(0)
    model = make_classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    val = list(itertools.islice(infinite_batches(seed=1), 2))
    bn = model[1]
    changed = []
    for step, batch in enumerate(itertools.islice(infinite_batches(), max_steps), start=1):
        before = bn.running_mean.clone()
        train_step(model, optimizer, batch)
        changed.append(not torch.equal(before, bn.running_mean))
        if step % eval_interval == 0:
            run_eval(model, val)
    print("BN-GROUND-TRUTH:", "updated" if all(changed) else "stale")


if __name__ == "__main__":
    main()
