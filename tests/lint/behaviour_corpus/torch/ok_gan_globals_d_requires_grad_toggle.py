"""Notebook-style 2-D GAN: networks, optimizers and the loss are module globals; d_step()/g_step()
use them directly and the training cell alternates the two steps."""
import torch
from torch import nn

torch.manual_seed(0)

NZ = 4
BATCH = 32
ITERS = 6

netG = nn.Sequential(nn.Linear(NZ, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
netD = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Linear(16, 1))
optD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
optG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
criterion = nn.BCEWithLogitsLoss()
CENTER = torch.tensor([2.0, -1.0])


def sample_real(n):
    return torch.randn(n, 2) * 0.5 + CENTER


def d_step(real):
    netD.requires_grad_(True)
    optD.zero_grad()
    fake = netG(torch.randn(len(real), NZ)).detach()
    loss = criterion(netD(real), torch.ones(len(real), 1)) + criterion(netD(fake), torch.zeros(len(real), 1))
    loss.backward()
    optD.step()
    return loss.item()


def g_step(n):
    netD.requires_grad_(False)
    optG.zero_grad()
    fake = netG(torch.randn(n, NZ))
    loss = criterion(netD(fake), torch.ones(n, 1))
    loss.backward()
    optG.step()
    return loss.item()


netG.train()
netD.train()
d_bn = netD[1]
d_moved = []
for it in range(ITERS):
    before = d_bn.running_mean.clone()
    d_loss = d_step(sample_real(BATCH))
    d_moved.append(not torch.allclose(before, d_bn.running_mean))
    g_loss = g_step(BATCH)
    print(f"iter {it}: d {d_loss:.3f} g {g_loss:.3f}")

if all(d_moved):
    verdict = "updated"
elif d_moved[0] and not any(d_moved[1:]):
    verdict = "stale"
else:
    verdict = "frozen"
print("BN-GROUND-TRUTH:", verdict)
