"""mmdet-style backbone with norm_eval: its train() override keeps the backbone's BN in eval (deliberate)."""
import torch
from torch import nn


class Backbone(nn.Module):
    def __init__(self, norm_eval=True):
        super().__init__()
        self.norm_eval = norm_eval
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())

    def train(self, mode=True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self

    def forward(self, x):
        return self.stem(x)


class Detector(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone(norm_eval=True)
        self.neck = nn.Sequential(nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.cls_head = nn.Conv2d(8, 2, 1)

    def forward(self, x):
        return self.cls_head(self.neck(self.backbone(x))).mean(dim=(2, 3))


def evaluate(model, batches):
    model.eval()
    with torch.no_grad():
        return sum((model(x).argmax(1) == y).float().mean().item() for x, y in batches) / len(batches)


if __name__ == "__main__":
    torch.manual_seed(0)
    model = Detector()
    stem_bn, neck_bn = model.backbone.stem[1], model.neck[1]
    pretrained = stem_bn.running_mean.clone()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    data = [(torch.randn(4, 3, 8, 8) + 1, torch.randint(0, 2, (4,))) for _ in range(3)]
    for epoch in range(2):
        model.train()
        for images, labels in data:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
        print("epoch", epoch, "acc", evaluate(model, data))
    ok = torch.equal(pretrained, stem_bn.running_mean) and int(neck_bn.num_batches_tracked) == 6
    print("BN-GROUND-TRUTH:", "stem-frozen-by-design-neck-updated" if ok else "broken")
