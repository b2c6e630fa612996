"""One run_epoch() helper serves training and validation: it sets the mode with
model.train(training) and steps the optimizer when one is given. `training` defaults to False
(the validation call); the training call passes training=True with the optimizer, so BatchNorm
updates its running statistics during the optimizer steps and is frozen for validation."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn


def get_args(argv=None):
    parser = argparse.ArgumentParser(description="tabular classifier")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=32)
    return parser.parse_args(argv)


class TabularNet(nn.Module):
    def __init__(self, features=10, hidden=32, classes=3):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(features, hidden), nn.BatchNorm1d(hidden), nn.ReLU(),
                                  nn.Dropout(0.1), nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.head(self.body(x))


def make_batches(n_batches, batch_size, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch_size, 10, generator=g) + shift, torch.randint(0, 3, (batch_size,), generator=g))
            for _ in range(n_batches)]


def run_epoch(model, batches, optimizer=None, training=False):
    """One pass over `batches`; the optimizer is stepped when one is given."""
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(optimizer is not None):
        for inputs, targets in batches:
            logits = model(inputs)
            loss = F.cross_entropy(logits, targets)
            if optimizer is not None:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(targets)
            correct += (logits.argmax(1) == targets).sum().item()
            seen += len(targets)
    return total_loss / seen, correct / seen


def main():
    args = get_args([])
    torch.manual_seed(0)
    model = TabularNet(hidden=args.hidden)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train_batches = make_batches(4, args.batch_size, shift=1.5, seed=1)
    val_batches = make_batches(2, args.batch_size, shift=1.5, seed=2)
    for epoch in range(args.epochs):
        train_loss, train_acc = run_epoch(model, train_batches, optimizer, training=True)
        val_loss, val_acc = run_epoch(model, val_batches)
        print(f"epoch {epoch}: train {train_loss:.3f}/{train_acc:.2f} val {val_loss:.3f}/{val_acc:.2f}")
    bn = model.body[1]
    tracked = int(bn.num_batches_tracked)
    if tracked == 0 and torch.all(bn.running_mean == 0).item():
        behaviour = "frozen"
    elif tracked == args.epochs * len(train_batches):
        behaviour = "updated"
    else:
        behaviour = "contaminated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
