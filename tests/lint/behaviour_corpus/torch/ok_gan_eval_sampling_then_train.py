"""Conditional GAN: sample previews in eval mode every step and switch the generator back to train."""
import torch
import torch.nn as nn


class G(nn.Module):
    def __init__(self, z_dim=4):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(z_dim, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))

    def forward(self, z):
        return self.net(z)


def sample_preview(gen, z):
    gen.eval()
    with torch.no_grad():
        out = gen(z)
    gen.train()
    return out


if __name__ == "__main__":
    torch.manual_seed(0)
    gen = G()
    disc = nn.Sequential(nn.Linear(2, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    g_opt = torch.optim.Adam(gen.parameters(), 1e-3)
    d_opt = torch.optim.Adam(disc.parameters(), 1e-3)
    bce = nn.BCEWithLogitsLoss()
    gen.train()
    changed = []
    for step in range(3):
        real = torch.randn(16, 2)
        fake = gen(torch.randn(16, 4))
        d_opt.zero_grad()
        (bce(disc(real), torch.ones(16, 1)) + bce(disc(fake.detach()), torch.zeros(16, 1))).backward()
        d_opt.step()
        before = gen.net[1].running_mean.clone()
        g_opt.zero_grad()
        bce(disc(gen(torch.randn(16, 4))), torch.ones(16, 1)).backward()
        g_opt.step()
        changed.append(not torch.equal(before, gen.net[1].running_mean))
        sample_preview(gen, torch.randn(4, 4))
    print("BN-GROUND-TRUTH:", "updated" if all(changed) else "stale")
