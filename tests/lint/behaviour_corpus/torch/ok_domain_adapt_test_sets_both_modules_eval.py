"""Domain-adaptation layout (ADDA/DANN style): the network is two separate modules, `encoder` and
`classifier`, each with its own BatchNorm, trained by one optimizer. test(encoder, classifier, loader)
puts both modules in eval mode (train_src switches both back each epoch): target-domain test
batches never reach either BatchNorm's running statistics."""
import itertools

import torch
from torch import nn
import torch.nn.functional as F


class Encoder(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1)
        self.bn = nn.BatchNorm2d(width)

    def forward(self, x):
        return F.adaptive_avg_pool2d(F.relu(self.bn(self.conv(x))), 1).flatten(1)


class Classifier(nn.Module):
    def __init__(self, width=8, hidden=16, n_classes=5):
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, feats):
        return self.fc2(F.relu(self.bn(self.fc1(feats))))


def batches(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(10, 3, 8, 8, generator=g) * 2 + shift, torch.randint(0, 5, (10,), generator=g))
            for _ in range(n)]


def test(encoder, classifier, loader):
    encoder.eval()
    classifier.eval()
    hits = 0
    with torch.no_grad():
        for images, labels in loader:
            hits += (classifier(encoder(images)).argmax(1) == labels).sum().item()
    return hits / sum(len(lbl) for _, lbl in loader)


def train_src(encoder, classifier, src_loader, tgt_loader, epochs=3):
    optimizer = torch.optim.Adam(itertools.chain(encoder.parameters(), classifier.parameters()), lr=1e-3)
    drift = []
    for _ in range(epochs):
        encoder.train()
        classifier.train()
        for images, labels in src_loader:
            optimizer.zero_grad()
            F.cross_entropy(classifier(encoder(images)), labels).backward()
            optimizer.step()
        before = classifier.bn.running_mean.clone()
        test(encoder, classifier, tgt_loader)
        drift.append(not torch.allclose(before, classifier.bn.running_mean))
    return drift


def main():
    torch.manual_seed(1)
    encoder, classifier = Encoder(), Classifier()
    drift = train_src(encoder, classifier, batches(4, 0.0, 1), batches(2, 2.5, 2))
    print("BN-GROUND-TRUTH:", "contaminated" if any(drift) else "updated")


if __name__ == "__main__":
    main()
