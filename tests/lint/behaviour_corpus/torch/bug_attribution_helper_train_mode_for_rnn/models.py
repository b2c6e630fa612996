"""Conv front-end + GRU sequence classifier for multichannel sensor windows."""
from torch import nn


class SensorNet(nn.Module):
    def __init__(self, channels=4, hidden=16, num_classes=3):
        super().__init__()
        self.frontend = nn.Sequential(
            nn.Conv1d(channels, hidden, kernel_size=3, padding=1), nn.BatchNorm1d(hidden), nn.ReLU())
        self.rnn = nn.GRU(hidden, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, num_classes)

    def forward(self, x):  # x: (N, C, T)
        h = self.frontend(x).transpose(1, 2)
        out, _ = self.rnn(h)
        return self.fc(out[:, -1])
