"""DCGAN-style loop: fixed-noise samples are drawn with the generator still in train mode (deliberate)."""
import torch
import torch.nn as nn

nz = 8


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(nz, 16), nn.BatchNorm1d(16), nn.ReLU(True), nn.Linear(16, 4), nn.Tanh())

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x):
        return self.main(x).view(-1)


if __name__ == "__main__":
    torch.manual_seed(0)
    netG, netD = Generator(), Discriminator()
    criterion = nn.BCEWithLogitsLoss()
    optD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fixed_noise = torch.randn(16, nz)
    real_batches = [torch.randn(16, 4) for _ in range(3)]
    sample_changed_stats = False
    for i, real in enumerate(real_batches):
        netD.zero_grad()
        noise = torch.randn(real.size(0), nz)
        fake = netG(noise)
        errD = criterion(netD(real), torch.ones(real.size(0))) + criterion(netD(fake.detach()), torch.zeros(real.size(0)))
        errD.backward()
        optD.step()
        netG.zero_grad()
        errG = criterion(netD(fake), torch.ones(real.size(0)))
        errG.backward()
        optG.step()
        before = netG.main[1].running_mean.clone()
        with torch.no_grad():
            samples = netG(fixed_noise).detach()
        sample_changed_stats |= not torch.equal(before, netG.main[1].running_mean)
    print("samples", samples.shape)
    print("BN-GROUND-TRUTH:", "sampled-in-train-mode" if sample_changed_stats else "updated")
