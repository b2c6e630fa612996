"""Training script that ends by exporting the model with `torch.export.export` for serving
(`torch.export.save` to a .pt2 archive). The export helper puts the model in eval mode first, so the exported
program records BatchNorm in inference mode with the trained running statistics."""
import os
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F


class SpeechCommandNet(nn.Module):
    def __init__(self, n_mels=16, n_classes=5):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, 24, 3, padding=1)
        self.bn1 = nn.BatchNorm1d(24)
        self.conv2 = nn.Conv1d(24, 24, 3, padding=1)
        self.bn2 = nn.BatchNorm1d(24)
        self.fc = nn.Linear(24, n_classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean(dim=-1))


def train(model, steps=10):
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        feats = torch.randn(16, 16, 20) * 1.5 + 0.5
        labels = torch.randint(0, 5, (16,))
        loss = F.cross_entropy(model(feats), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def export_for_serving(model, path):
    model.eval()
    example = (torch.randn(4, 16, 20),)
    program = torch.export.export(model, example)
    torch.export.save(program, path)
    return path


def batch_independent(module, x):
    with torch.no_grad():
        alone = torch.cat([module(x[i:i + 1].repeat(4, 1, 1))[:1] for i in range(len(x))])
        together = module(x[:4])
    return torch.allclose(alone[:4], together, atol=1e-4)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = SpeechCommandNet()
    train(model)
    path = export_for_serving(model, os.path.join(tempfile.mkdtemp(), "kws.pt2"))
    served = torch.export.load(path).module()
    trained = not torch.allclose(model.bn1.running_mean, torch.zeros(24))
    ok = trained and batch_independent(served, torch.randn(4, 16, 20) * 1.5 + 0.5)
    print("BN-GROUND-TRUTH:", "updated" if ok else "eval-uses-batch-stats")
