from torch import nn


class DensityRegressor(nn.Module):
    """Small regressor: features -> BN -> head."""

    def __init__(self, in_dim=10, hidden=24):
        super().__init__()
        self.features = nn.Sequential(nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        return self.head(self.features(x)).squeeze(1)
