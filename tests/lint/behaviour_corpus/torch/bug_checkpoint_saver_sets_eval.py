"""Step-based trainer with periodic checkpoints. `CheckpointSaver.save()` puts the model in eval mode
before `torch.save` (copied from an export helper, "so the saved model is ready for inference") and never
restores the mode; `train()` is called once per epoch, so every step after the first checkpoint of an
epoch runs BatchNorm with frozen running statistics."""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F


class MLP(nn.Module):
    def __init__(self, d_in=10, hidden=32, n_out=3):
        super().__init__()
        self.fc1 = nn.Linear(d_in, hidden)
        self.bn1 = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_out)

    def forward(self, x):
        return self.fc2(F.relu(self.bn1(self.fc1(x))))


class CheckpointSaver:
    def __init__(self, directory, keep=2):
        self.directory = directory
        self.keep = keep
        self.saved = []

    def save(self, model, optimizer, step):
        model.eval()
        path = os.path.join(self.directory, f"ckpt_{step:06d}.pt")
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step}, path)
        self.saved.append(path)
        while len(self.saved) > self.keep:
            os.remove(self.saved.pop(0))
        return path


def fit(model, optimizer, loader, epochs, saver, save_every):
    step = 0
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
            if step % save_every == 0:
                saver.save(model, optimizer, step)
    return step


if __name__ == "__main__":
    torch.manual_seed(0)
    model = MLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    loader = [(torch.randn(16, 10) + 2, torch.randint(0, 3, (16,))) for _ in range(6)]
    saver = CheckpointSaver(tempfile.mkdtemp())
    steps = fit(model, optimizer, loader, epochs=2, saver=saver, save_every=2)
    tracked = int(model.bn1.num_batches_tracked)
    print("BN-GROUND-TRUTH:", "updated" if tracked == steps else "stale")
