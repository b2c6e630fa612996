"""mmdet-style detector: the backbone has `norm_eval` / `frozen_stages` options and overrides
train(mode) to re-apply them every time the mode changes. The override calls super().train(mode)
first (as mmdet's ResNet does) and returns self, so detector.eval() before validation switches the
backbone BatchNorms to their running statistics and detector.train() switches them back."""
import argparse

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def conv_bn(cin, cout, stride=1):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class TinyResNet(nn.Module):
    def __init__(self, widths=(8, 16), norm_eval=False, frozen_stages=-1):
        super().__init__()
        self.norm_eval = norm_eval
        self.frozen_stages = frozen_stages
        self.stem = conv_bn(3, widths[0])
        self.stages = nn.ModuleList()
        cin = widths[0]
        for w in widths:
            self.stages.append(nn.Sequential(conv_bn(cin, w, 2), conv_bn(w, w)))
            cin = w

    def _freeze_stages(self):
        if self.frozen_stages >= 0:
            self.stem.eval()
            for p in self.stem.parameters():
                p.requires_grad = False
        for i in range(self.frozen_stages):
            self.stages[i].eval()
            for p in self.stages[i].parameters():
                p.requires_grad = False

    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def forward(self, x):
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return x


class Detector(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.backbone = TinyResNet(norm_eval=cfg.norm_eval, frozen_stages=cfg.frozen_stages)
        self.neck = conv_bn(16, 16)
        self.cls_head = nn.Conv2d(16, cfg.num_classes, 1)

    def forward(self, x):
        return self.cls_head(self.neck(self.backbone(x))).mean(dim=(2, 3))


def parse_args(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=0.02)
    p.add_argument("--num-classes", type=int, default=4)
    p.add_argument("--norm-eval", action="store_true")
    p.add_argument("--frozen-stages", type=int, default=-1)
    return p.parse_args(argv)


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = 0
    for images, labels in loader:
        correct += (model(images).argmax(1) == labels).sum().item()
    return correct / sum(len(lbl) for _, lbl in loader)


def main(argv=None):
    cfg = parse_args(argv)
    torch.manual_seed(0)
    model = Detector(cfg)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=cfg.lr,
                                momentum=0.9)
    train_loader = [(torch.randn(4, 3, 16, 16), torch.randint(0, cfg.num_classes, (4,)))
                    for _ in range(4)]
    val_loader = [(torch.randn(4, 3, 16, 16) * 3 + 5, torch.randint(0, cfg.num_classes, (4,)))
                  for _ in range(2)]
    steps = 0
    for epoch in range(cfg.epochs):
        model.train()
        for images, labels in train_loader:
            loss = F.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
        acc = evaluate(model, val_loader)
        print(f"epoch {epoch} val acc {acc:.2f}")
    stem_bn = model.backbone.stem[1]
    tracked = int(stem_bn.num_batches_tracked)
    if tracked > steps:
        verdict = "contaminated"
    elif tracked == steps:
        verdict = "updated"
    else:
        verdict = "stale"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
