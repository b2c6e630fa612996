"""Fine-tuning a pretrained encoder on a small shifted dataset. FineTuner.__init__ freezes the encoder's
BatchNorm statistics once with model.apply(set_bn_eval) (the classic detection recipe), but fit() calls
model.train() at the start of every epoch, which puts those BN layers back in training mode: the
pretrained running statistics drift towards the fine-tuning batches."""
import copy

import torch
from torch import nn


def set_bn_eval(module):
    classname = module.__class__.__name__
    if classname.find("BatchNorm") != -1:
        module.eval()


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU())


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_block(3, 8)
        self.stage = nn.Sequential(nn.MaxPool2d(2), conv_block(8, 16))

    def forward(self, x):
        return self.stage(self.stem(x)).mean(dim=(2, 3))


class Classifier(nn.Module):
    def __init__(self, encoder, classes):
        super().__init__()
        self.encoder = encoder
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        return self.fc(self.encoder(x))


def pretrain_encoder(batches, epochs=2):
    """Stand-in for downloading ImageNet weights: train the encoder on a source task."""
    model = Classifier(Encoder(), classes=4)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(epochs):
        model.train()
        for x, y in batches:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
    return model.encoder.state_dict()


class FineTuner:
    def __init__(self, model, lr=0.01, freeze_bn=True):
        self.model = model
        self.optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
        if freeze_bn:
            self.model.apply(set_bn_eval)

    def train_epoch(self, loader):
        total = 0.0
        for x, y in loader:
            self.optimizer.zero_grad()
            loss = nn.functional.cross_entropy(self.model(x), y)
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        return total / len(loader)

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        return sum((self.model(x).argmax(1) == y).float().mean().item() for x, y in loader) / len(loader)

    def fit(self, train_loader, val_loader, epochs):
        for epoch in range(epochs):
            self.model.train()
            loss = self.train_epoch(train_loader)
            print(f"epoch {epoch} loss {loss:.3f} val acc {self.evaluate(val_loader):.3f}")


def main():
    torch.manual_seed(0)
    source = [(torch.randn(16, 3, 12, 12), torch.randint(0, 4, (16,))) for _ in range(4)]
    target = [(torch.randn(8, 3, 12, 12) * 3 + 2, torch.randint(0, 2, (8,))) for _ in range(3)]
    encoder = Encoder()
    encoder.load_state_dict(pretrain_encoder(source))
    pretrained = copy.deepcopy(encoder.stem[1].running_mean)
    model = Classifier(encoder, classes=2)
    FineTuner(model).fit(target, target[:1], epochs=3)
    drifted = not torch.allclose(model.encoder.stem[1].running_mean, pretrained)
    print("BN-GROUND-TRUTH:", "contaminated" if drifted else "frozen-by-design")


if __name__ == "__main__":
    main()
