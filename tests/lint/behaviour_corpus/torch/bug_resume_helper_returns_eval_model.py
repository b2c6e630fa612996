"""Resuming a run: load_checkpoint() was copied from the inference utilities and ends with
model.eval(). The resumed training loop never calls model.train(), so BatchNorm keeps the running
statistics stored in the checkpoint for the whole resumed run."""
import io

import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, features=6, hidden=12, classes=3):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc2(torch.relu(self.bn1(self.fc1(x))))


def save_checkpoint(model, optimizer, epoch):
    buffer = io.BytesIO()
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, buffer)
    buffer.seek(0)
    return buffer


def load_checkpoint(buffer, model, optimizer=None):
    state = torch.load(buffer, weights_only=True)
    model.load_state_dict(state["model"])
    if optimizer is not None:
        optimizer.load_state_dict(state["optimizer"])
    model.eval()
    return state["epoch"]


def run_epochs(model, optimizer, loader, start, stop):
    for epoch in range(start, stop):
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()


def main():
    torch.manual_seed(0)
    loader = [(torch.randn(16, 6) + 1, torch.randint(0, 3, (16,))) for _ in range(3)]
    # first session: one epoch, then checkpoint
    model = Classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.train()
    run_epochs(model, optimizer, loader, 0, 1)
    ckpt = save_checkpoint(model, optimizer, epoch=1)
    # resumed session
    model = Classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    start = load_checkpoint(ckpt, model, optimizer)
    at_resume = model.bn1.running_mean.clone()
    run_epochs(model, optimizer, loader, start, 4)
    frozen = torch.equal(at_resume, model.bn1.running_mean)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
