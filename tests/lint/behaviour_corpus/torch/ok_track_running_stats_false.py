"""Instance-style normalisation via BatchNorm(track_running_stats=False): batch stats at eval too."""
import torch
from torch import nn


class StyleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Conv2d(3, 6, 3, padding=1)
        self.norm = nn.BatchNorm2d(6, track_running_stats=False)
        self.dec = nn.Conv2d(6, 3, 3, padding=1)

    def forward(self, x):
        return self.dec(torch.relu(self.norm(self.enc(x))))


if __name__ == "__main__":
    torch.manual_seed(0)
    net = StyleNet()
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    for _ in range(3):
        img = torch.rand(2, 3, 8, 8)
        opt.zero_grad()
        nn.functional.l1_loss(net(img), img).backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        net(torch.rand(2, 3, 8, 8))
    print("BN-GROUND-TRUTH:", "not-tracked" if net.norm.running_mean is None else "tracked")
