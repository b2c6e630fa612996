"""Linear evaluation of a pretrained encoder. The backbone is "frozen" with requires_grad_(False)
and only the linear classifier is given to the optimizer, but the loop calls model.train() every
epoch: the backbone's BatchNorm layers still run in training mode and their running statistics -
the pretrained ones the probe is supposed to evaluate - drift toward the probe dataset."""
import os
import tempfile

import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {"pretrain_steps": 5, "probe_epochs": 2, "lr": 0.1, "num_classes": 4}


class Encoder(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                                      nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_dim = width

    def forward(self, x):
        return self.features(x)


def pretrain(path):
    """Stand-in for the self-supervised pretraining run that produced the checkpoint."""
    encoder = Encoder()
    opt = torch.optim.SGD(encoder.parameters(), lr=0.05)
    encoder.train()
    for _ in range(CONFIG["pretrain_steps"]):
        opt.zero_grad()
        encoder(torch.randn(16, 3, 8, 8)).pow(2).mean().backward()
        opt.step()
    torch.save(encoder.state_dict(), path)


class LinearProbe(nn.Module):
    def __init__(self, encoder, num_classes):
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(encoder.out_dim, num_classes)

    def forward(self, x):
        return self.fc(self.encoder(x))


def main():
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = os.path.join(tmp, "encoder.pth")
        pretrain(ckpt)
        encoder = Encoder()
        encoder.load_state_dict(torch.load(ckpt, weights_only=True))
    encoder.requires_grad_(False)
    model = LinearProbe(encoder, CONFIG["num_classes"])
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=CONFIG["lr"])
    pretrained_mean = encoder.features[1].running_mean.clone()
    probe_data = [(torch.randn(16, 3, 8, 8) * 2 + 3, torch.randint(0, 4, (16,))) for _ in range(3)]
    for epoch in range(CONFIG["probe_epochs"]):
        model.train()
        for x, y in probe_data:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    drifted = not torch.allclose(encoder.features[1].running_mean, pretrained_mean)
    print("BN-GROUND-TRUTH:", "contaminated" if drifted else "frozen-by-design")


if __name__ == "__main__":
    main()
