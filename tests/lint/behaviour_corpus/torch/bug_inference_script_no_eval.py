"""Train, save a checkpoint, then a separate inference function reloads it and predicts without eval()."""
import os
import tempfile

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.classifier = nn.Linear(4, 2)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def train_and_save(path):
    net = Net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    net.train()
    for _ in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(net(torch.randn(8, 1, 6, 6)), torch.randint(0, 2, (8,))).backward()
        opt.step()
    torch.save(net.state_dict(), path)


def load_and_predict(path, images):
    model = Net()
    model.load_state_dict(torch.load(path, weights_only=True))
    with torch.no_grad():
        preds = model(images).argmax(1)
    return model, preds


if __name__ == "__main__":
    torch.manual_seed(0)
    ckpt = os.path.join(tempfile.mkdtemp(), "net.pt")
    train_and_save(ckpt)
    saved = torch.load(ckpt, weights_only=True)["features.1.running_mean"]
    model, _ = load_and_predict(ckpt, torch.randn(16, 1, 6, 6) * 3 + 2)
    changed = not torch.equal(saved, model.features[1].running_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if changed else "updated")
