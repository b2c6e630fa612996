"""Detection-style trainer with a cfg["freeze_bn"] switch meant for fine-tuning a pretrained
backbone ("small batches: keep the ImageNet statistics"). Here the model is built from scratch
(no checkpoint loaded) but the config keeps freeze_bn=True, so every epoch model.train() is
followed by model.freeze_bn(): all BatchNorm layers run in eval mode with their initial 0/1
statistics, which never update."""
import torch
import torch.nn.functional as F
from torch import nn

CFG = {"epochs": 3, "lr": 0.02, "freeze_bn": True, "pretrained": None}


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
            nn.Conv2d(8, 8, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU())

    def forward(self, x):
        return self.layers(x)


class Detector(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.backbone = Backbone()
        self.cls_head = nn.Conv2d(8, classes, 1)

    def forward(self, x):
        return self.cls_head(self.backbone(x)).mean(dim=(2, 3))

    def freeze_bn(self):
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


def train(cfg):
    torch.manual_seed(0)
    model = Detector()
    if cfg["pretrained"]:
        model.backbone.load_state_dict(torch.load(cfg["pretrained"], weights_only=True))
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["lr"], momentum=0.9)
    loader = [(torch.randn(4, 3, 8, 8) * 3 + 2, torch.randint(0, 4, (4,))) for _ in range(3)]
    first_bn = model.backbone.layers[1]
    for epoch in range(cfg["epochs"]):
        model.train()
        if cfg["freeze_bn"]:
            model.freeze_bn()
        for images, targets in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(images), targets).backward()
            optimizer.step()
    frozen = torch.all(first_bn.running_mean == 0) and int(first_bn.num_batches_tracked) == 0
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    train(CFG)
