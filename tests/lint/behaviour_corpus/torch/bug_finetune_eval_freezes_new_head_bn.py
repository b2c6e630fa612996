"""Fine-tuning: model.eval() to keep the pretrained backbone's BN fixed... which also freezes the new head's BN."""
import torch
from torch import nn


class Classifier(nn.Module):
    def __init__(self, backbone, num_classes):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, num_classes))

    def forward(self, x):
        return self.head(self.backbone(x))


def pretrained_backbone():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten())


def finetune(model, loader, epochs=2):
    for p in model.backbone.parameters():
        p.requires_grad = False
    model.eval()  # "keep BatchNorm statistics of the pretrained network"
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(epochs):
        for images, labels in loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()


if __name__ == "__main__":
    model = Classifier(pretrained_backbone(), num_classes=5)
    torch.manual_seed(0)
    loader = [(torch.randn(8, 3, 8, 8) + 1, torch.randint(0, 5, (8,))) for _ in range(3)]
    finetune(model, loader)
    head_bn = model.head[1]
    frozen = torch.all(head_bn.running_mean == 0) and torch.all(head_bn.running_var == 1)
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")
