"""Train, save the weights, then export a TorchScript model with torch.jit.trace in a separate
step that rebuilds the network and loads the weights but forgets model.eval(): the trace records
BatchNorm in training mode, and traced.eval() cannot undo it."""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(8, 32)
        self.bn1 = nn.BatchNorm1d(32)
        self.out = nn.Linear(32, 3)

    def forward(self, x):
        return self.out(F.relu(self.bn1(self.fc1(x))))


def train(path, steps=30):
    model = Classifier()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        x = torch.randn(32, 8) * 2 + 1
        y = (x[:, 0] > 1).long()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), path)


def export(weights, out):
    model = Classifier()
    model.load_state_dict(torch.load(weights))
    traced = torch.jit.trace(model, torch.randn(4, 8))
    traced.save(out)


def batch_independent(module, x):
    """Inference with trained statistics gives every sample the same output alone or in a batch."""
    with torch.no_grad():
        alone = torch.cat([module(x[i:i + 1].repeat(2, 1))[:1] for i in range(len(x))])
        together = module(x)
    return torch.allclose(alone, together, atol=1e-5)


if __name__ == "__main__":
    torch.manual_seed(0)
    d = tempfile.mkdtemp()
    weights, out = os.path.join(d, "w.pt"), os.path.join(d, "model.ts")
    train(weights)
    export(weights, out)
    deployed = torch.jit.load(out)
    deployed.eval()
    before = deployed.bn1.running_mean.clone()
    ok = batch_independent(deployed, torch.randn(6, 8) * 2 + 1)
    moved = not torch.equal(before, deployed.bn1.running_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok and not moved else "eval-uses-batch-stats")
