"""Small-batch fine-tuning of a pretrained encoder: the recipe freezes the encoder's weights and
keeps its BatchNorm statistics fixed on purpose with a helper that walks `module.modules()` (recursive)
after every model.train(): the encoder's BatchNorm layers, nested in its conv blocks, run in eval mode
with the pretrained running statistics while only the linear head is trained (frozen by design)."""
import io

import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {"pretrain_steps": 6, "finetune_epochs": 3, "lr": 0.05, "batch_size": 4, "classes": 3}


def block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU())


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(block(3, 8), nn.MaxPool2d(2), block(8, 16))

    def forward(self, x):
        return self.body(x).mean(dim=(2, 3))


class Classifier(nn.Module):
    def __init__(self, encoder, classes):
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(self.encoder(x))


def fix_bn(module):
    for layer in module.modules():
        if isinstance(layer, nn.BatchNorm2d):
            layer.eval()


def pretrained_encoder_bytes(cfg):
    encoder = Encoder()
    head = nn.Linear(16, 5)
    opt = torch.optim.SGD(list(encoder.parameters()) + list(head.parameters()), lr=cfg["lr"])
    encoder.train()
    for _ in range(cfg["pretrain_steps"]):
        x = torch.randn(16, 3, 8, 8)
        loss = F.cross_entropy(head(encoder(x)), torch.randint(0, 5, (16,)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    buf = io.BytesIO()
    torch.save(encoder.state_dict(), buf)
    return buf.getvalue()


def finetune(cfg):
    torch.manual_seed(0)
    encoder = Encoder()
    encoder.load_state_dict(torch.load(io.BytesIO(pretrained_encoder_bytes(cfg)), weights_only=True))
    for p in encoder.parameters():
        p.requires_grad = False
    model = Classifier(encoder, cfg["classes"])
    optimizer = torch.optim.SGD(model.fc.parameters(), lr=cfg["lr"], momentum=0.9)
    pretrained_mean = model.encoder.body[0][1].running_mean.clone()
    batches = [(torch.randn(cfg["batch_size"], 3, 8, 8) * 2 + 3,
                torch.randint(0, cfg["classes"], (cfg["batch_size"],))) for _ in range(4)]
    for epoch in range(cfg["finetune_epochs"]):
        model.train()
        fix_bn(model.encoder)
        for x, y in batches:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch} loss {loss.item():.3f}")
    kept = torch.equal(model.encoder.body[0][1].running_mean, pretrained_mean)
    print("BN-GROUND-TRUTH:", "frozen-by-design" if kept else "contaminated")


if __name__ == "__main__":
    finetune(CONFIG)
