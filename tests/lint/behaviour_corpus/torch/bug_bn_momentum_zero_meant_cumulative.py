"""Speech-commands style 1-D CNN. The author wanted BatchNorm to keep a cumulative average of all
batches and wrote momentum=0 ("no decay"); in PyTorch that is momentum=None. With momentum=0 the
running statistics are multiplied by (1 - 0) and the new batch by 0: they never leave 0/1."""
import torch
import torch.nn.functional as F
from torch import nn

BN_MOMENTUM = 0.0  # no exponential decay: average over all batches


class KeywordSpotter(nn.Module):
    def __init__(self, n_mels=8, classes=5):
        super().__init__()
        self.conv1 = nn.Conv1d(n_mels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(16, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv1d(16, 16, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(16, momentum=BN_MOMENTUM)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return self.fc(x.mean(dim=2))


def main(epochs=2):
    torch.manual_seed(0)
    model = KeywordSpotter()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = [(torch.randn(8, 8, 20) * 2 + 3, torch.randint(0, 5, (8,))) for _ in range(3)]
    val = [(torch.randn(8, 8, 20) * 2 + 3, torch.randint(0, 5, (8,)))]
    for epoch in range(epochs):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(x).argmax(1) == y).float().mean().item() for x, y in val) / len(val)
        print(f"epoch {epoch} val acc {acc:.2f}")
    frozen = torch.allclose(model.bn1.running_mean, torch.zeros(16)) and int(model.bn1.num_batches_tracked) == 6
    print("BN-GROUND-TRUTH:", "frozen" if frozen else "updated")


if __name__ == "__main__":
    main()
