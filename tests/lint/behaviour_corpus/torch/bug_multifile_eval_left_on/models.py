from torch import nn


class Classifier(nn.Module):
    def __init__(self, n_in=8, n_cls=3):
        super().__init__()
        self.stem = nn.Linear(n_in, 16)
        self.norm = nn.BatchNorm1d(16)
        self.head = nn.Linear(16, n_cls)

    def forward(self, x):
        return self.head(self.norm(self.stem(x)).relu())
