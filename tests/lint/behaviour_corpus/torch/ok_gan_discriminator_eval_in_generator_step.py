"""DCGAN variant that puts the discriminator in eval() while the generator is updated (so the
fake-only generator batches do not move D's BatchNorm statistics) and back to train() at the top
of every discriminator step."""
import torch
import torch.nn.functional as F
from torch import nn

OPT = {"latent": 4, "batch": 16, "iters": 4, "lr": 2e-3}


class Generator(nn.Module):
    def __init__(self, latent):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 6))

    def forward(self, z):
        return self.net(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x)


def d_step(netD, netG, opt_d, real):
    netD.train()
    opt_d.zero_grad()
    z = torch.randn(real.size(0), OPT["latent"])
    fake = netG(z).detach()
    loss = (F.binary_cross_entropy_with_logits(netD(real), torch.ones(real.size(0), 1))
            + F.binary_cross_entropy_with_logits(netD(fake), torch.zeros(real.size(0), 1)))
    loss.backward()
    opt_d.step()


def g_step(netD, netG, opt_g, batch):
    netD.eval()
    opt_g.zero_grad()
    fake = netG(torch.randn(batch, OPT["latent"]))
    F.binary_cross_entropy_with_logits(netD(fake), torch.ones(batch, 1)).backward()
    opt_g.step()


def main():
    torch.manual_seed(0)
    netG, netD = Generator(OPT["latent"]), Discriminator()
    netG.train()
    opt_g = torch.optim.Adam(netG.parameters(), lr=OPT["lr"], betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(netD.parameters(), lr=OPT["lr"], betas=(0.5, 0.999))
    for _ in range(OPT["iters"]):
        real = torch.randn(OPT["batch"], 6) + 3
        d_step(netD, netG, opt_d, real)
        g_step(netD, netG, opt_g, OPT["batch"])
    d_tracked = netD.net[1].num_batches_tracked.item()
    g_tracked = netG.net[1].num_batches_tracked.item()
    # D: 2 forwards (real, fake) per D step and none in the G step; G: one per step of each kind
    ok = d_tracked == 2 * OPT["iters"] and g_tracked == 2 * OPT["iters"]
    print("BN-GROUND-TRUTH:", "updated" if ok else "stale")


if __name__ == "__main__":
    main()
