"""Fine-tune a pretrained encoder on a new domain with a warm-up stage.

YOLO/transfer-learning recipe: the backbone is frozen for the first `freeze_epochs`
(only the new head trains), then unfrozen and the whole network is fine-tuned.
"""
from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class Config:
    epochs: int = 5
    freeze_epochs: int = 2
    lr: float = 0.02
    batch_size: int = 32
    seed: int = 0


class Backbone(nn.Module):
    def __init__(self, d_in=10, width=20):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.ReLU(),
                                    nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())

    def forward(self, x):
        return self.layers(x)


class Classifier(nn.Module):
    def __init__(self, backbone, width=20, num_classes=2):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def batches(seed, n, cfg, shift):
    g = torch.Generator().manual_seed(seed)
    for _ in range(n):
        x = torch.randn(cfg.batch_size, 10, generator=g) * 1.5 + shift
        yield x, (x[:, :2].sum(1) > 2 * shift).long()


def pretrained_backbone(cfg):
    """Stand-in for loading ImageNet-style weights: a short source-domain pre-training run."""
    backbone = Backbone()
    model = Classifier(backbone)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr)
    model.train()
    for x, y in batches(100, 20, cfg, shift=0.0):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return backbone.state_dict()


def freeze(module):
    for p in module.parameters():
        p.requires_grad = False
    module.eval()


def unfreeze(module):
    for p in module.parameters():
        p.requires_grad = True
    module.train()


class FineTuner:
    def __init__(self, model, cfg):
        self.model, self.cfg = model, cfg
        self.optimizer = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=0.9)
        self.snapshot = None

    def train_epoch(self, epoch):
        for x, y in batches(epoch, 6, self.cfg, shift=2.0):
            loss = nn.functional.cross_entropy(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return loss.item()

    def fit(self):
        self.model.train()
        for epoch in range(self.cfg.epochs):
            if epoch == 0 and self.cfg.freeze_epochs > 0:
                freeze(self.model.backbone)
            if epoch == self.cfg.freeze_epochs:
                unfreeze(self.model.backbone)
                self.snapshot = self.model.backbone.layers[1].running_mean.clone()
            print(f"epoch {epoch} loss {self.train_epoch(epoch):.4f}")


def main():
    cfg = Config()
    torch.manual_seed(cfg.seed)
    backbone = Backbone()
    backbone.load_state_dict(pretrained_backbone(cfg))
    model = Classifier(backbone)
    tuner = FineTuner(model, cfg)
    tuner.fit()
    final = model.backbone.layers[1].running_mean
    moved = (final - tuner.snapshot).abs().max().item()
    print("BN-GROUND-TRUTH:", "updated" if moved > 1e-3 else "stale")


if __name__ == "__main__":
    main()
