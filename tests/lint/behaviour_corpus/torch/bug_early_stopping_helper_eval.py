"""Early stopping: EarlyStopping.should_stop(model, loader) scores the model in eval() mode and
keeps the best weights. fit() calls model.train() once before the epoch loop, so from the second
epoch on BatchNorm trains with its running statistics frozen."""
import copy

import torch
from torch import nn


def conv_bn(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class TinyCNN(nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.features = nn.Sequential(conv_bn(1, 6), nn.MaxPool2d(2), conv_bn(6, 8))
        self.classifier = nn.Linear(8, classes)

    def forward(self, x):
        return self.classifier(self.features(x).mean(dim=(2, 3)))


class EarlyStopping:
    def __init__(self, patience=3):
        self.patience = patience
        self.best = float("inf")
        self.best_state = None
        self.bad_epochs = 0

    @torch.no_grad()
    def should_stop(self, model, loader):
        model.eval()
        loss = sum(nn.functional.cross_entropy(model(x), y).item() for x, y in loader) / len(loader)
        if loss < self.best:
            self.best, self.bad_epochs = loss, 0
            self.best_state = copy.deepcopy(model.state_dict())
        else:
            self.bad_epochs += 1
        return self.bad_epochs >= self.patience


def fit(model, train_loader, val_loader, epochs=4, lr=0.05):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    stopper = EarlyStopping(patience=5)
    first_bn = model.features[0][1]
    tracked_per_epoch = []
    model.train()
    for epoch in range(epochs):
        for images, labels in train_loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(images), labels).backward()
            optimizer.step()
        tracked_per_epoch.append(int(first_bn.num_batches_tracked))
        if stopper.should_stop(model, val_loader):
            print("early stop at epoch", epoch)
            break
    return tracked_per_epoch


def main():
    torch.manual_seed(0)
    model = TinyCNN()
    train_loader = [(torch.randn(8, 1, 8, 8) + 1.5, torch.randint(0, 3, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 1, 8, 8), torch.randint(0, 3, (8,)))]
    tracked = fit(model, train_loader, val_loader)
    print("BN-GROUND-TRUTH:", "stale" if tracked == [3, 3, 3, 3] else "updated")


if __name__ == "__main__":
    main()
