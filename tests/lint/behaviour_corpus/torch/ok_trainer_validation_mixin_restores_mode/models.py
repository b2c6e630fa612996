from torch import nn


class TabularNet(nn.Module):
    def __init__(self, n_features, hidden, n_classes):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_features, hidden),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
        )
        self.head = nn.Linear(hidden, n_classes)

    def forward(self, x):
        return self.head(self.body(x))


def build_model(args):
    return TabularNet(args.n_features, args.hidden, args.n_classes)
