"""A home-grown Lightning-style loop: the LitModule's on_validation_start() hook calls self.eval()
and its on_validation_end() hook calls self.train() again, and the mini trainer calls both hooks
around validation. Every training batch runs BatchNorm in train mode: the statistics update."""
import torch
import torch.nn.functional as F
from torch import nn


class LitClassifier(nn.Module):
    def __init__(self, classes=3, lr=0.05):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, classes))
        self.lr = lr

    def forward(self, x):
        return self.net(x)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)

    def training_step(self, batch):
        x, y = batch
        return F.cross_entropy(self(x), y)

    def on_validation_start(self):
        self.eval()

    def on_validation_end(self):
        self.train()

    @torch.no_grad()
    def validation_step(self, batch):
        x, y = batch
        return (self(x).argmax(1) == y).float().mean()


class MiniTrainer:
    def __init__(self, max_epochs=3):
        self.max_epochs = max_epochs

    def fit(self, module, train_loader, val_loader):
        optimizer = module.configure_optimizers()
        module.train()
        tracked = []
        for epoch in range(self.max_epochs):
            for batch in train_loader:
                optimizer.zero_grad()
                module.training_step(batch).backward()
                optimizer.step()
            tracked.append(int(module.net[1].num_batches_tracked))
            module.on_validation_start()
            accs = [module.validation_step(batch) for batch in val_loader]
            module.on_validation_end()
            print(f"epoch {epoch} val_acc {torch.stack(accs).mean():.2f}")
        return tracked


def main():
    torch.manual_seed(0)
    train_loader = [(torch.randn(16, 6) + 2, torch.randint(0, 3, (16,))) for _ in range(2)]
    val_loader = [(torch.randn(16, 6), torch.randint(0, 3, (16,)))]
    tracked = MiniTrainer().fit(LitClassifier(), train_loader, val_loader)
    print("BN-GROUND-TRUTH:", "updated" if tracked == [2, 4, 6] else "stale")


if __name__ == "__main__":
    main()
