"""A trainer that switches to inference by assigning `self.model.training = False` instead of
calling eval(). The attribute only changes the top-level module: its BatchNorm children keep
training=True, so every validation batch is normalized with its own statistics and folded into
the running statistics (under no_grad)."""
import torch
import torch.nn.functional as F
from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, padding=1)
        self.bn = nn.BatchNorm2d(6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x):
        return self.fc(F.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


class Trainer:
    def __init__(self, model, lr=0.05):
        self.model = model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)

    def train_epoch(self, loader):
        self.model.training = True
        for x, y in loader:
            self.optimizer.zero_grad()
            F.cross_entropy(self.model(x), y).backward()
            self.optimizer.step()

    @torch.no_grad()
    def validate(self, loader):
        self.model.training = False
        correct = sum((self.model(x).argmax(1) == y).sum().item() for x, y in loader)
        return correct / sum(len(y) for _, y in loader)


def main(epochs=2):
    torch.manual_seed(0)
    trainer = Trainer(Net())
    train_loader = [(torch.randn(8, 1, 6, 6), torch.randint(0, 3, (8,))) for _ in range(3)]
    val_loader = [(torch.randn(8, 1, 6, 6) * 4 + 6, torch.randint(0, 3, (8,))) for _ in range(2)]
    for epoch in range(epochs):
        trainer.train_epoch(train_loader)
        before = trainer.model.bn.running_mean.clone()
        print("epoch", epoch, "val acc", trainer.validate(val_loader))
        absorbed = not torch.allclose(trainer.model.bn.running_mean, before)
    print("BN-GROUND-TRUTH:", "contaminated" if absorbed else "updated")


if __name__ == "__main__":
    main()
