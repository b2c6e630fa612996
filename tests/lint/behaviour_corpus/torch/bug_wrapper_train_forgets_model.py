"""CenterNet-style ModelWithLoss wrapper (a plain class): its train() only switches the loss module."""
import torch
from torch import nn


class FocalishLoss(nn.Module):
    def __init__(self, gamma=2.0):
        super().__init__()
        self.gamma = gamma

    def forward(self, logits, labels):
        ce = nn.functional.cross_entropy(logits, labels, reduction="none")
        return ((1 - torch.exp(-ce)) ** self.gamma * ce).mean()


class ModelWithLoss:
    """Bundles the network and its loss for the trainer (not an nn.Module, so nothing is registered)."""

    def __init__(self, model, loss):
        self.model = model
        self.loss = loss

    def __call__(self, images, labels):
        logits = self.model(images)
        return logits, self.loss(logits, labels)

    def train(self):
        self.loss.train()
        return self

    def eval(self):
        self.model.eval()
        self.loss.eval()
        return self


def make_net():
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(6, 2))


def run_epoch(wrapper, batches, optimizer=None):
    if optimizer is not None:
        wrapper.train()
    else:
        wrapper.eval()
    total = 0.0
    for images, labels in batches:
        with torch.set_grad_enabled(optimizer is not None):
            _, loss = wrapper(images, labels)
        if optimizer is not None:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        total += loss.item()
    return total / len(batches)


if __name__ == "__main__":
    torch.manual_seed(0)
    net = make_net()
    wrapper = ModelWithLoss(net, FocalishLoss())
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    train_batches = [(torch.randn(8, 1, 10, 10) + 2.0, torch.randint(0, 2, (8,))) for _ in range(3)]
    val_batches = [(torch.randn(8, 1, 10, 10), torch.randint(0, 2, (8,)))]
    bn = net[1]
    changed = []
    for epoch in range(3):
        before = bn.running_mean.clone()
        run_epoch(wrapper, train_batches, optimizer)
        changed.append(not torch.equal(before, bn.running_mean))
        run_epoch(wrapper, val_batches)
    print("BN-GROUND-TRUTH:", "stale" if changed[0] and not any(changed[1:]) else "updated")
