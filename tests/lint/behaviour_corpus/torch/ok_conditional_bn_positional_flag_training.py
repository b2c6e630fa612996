"""Class-conditional GAN (BigGAN/SNGAN-style conditional BatchNorm in the generator). The
conditional BN keeps its own running buffers and gets gain/bias from a class embedding, so it
calls F.batch_norm(x, mean, var, None, None, self.training, momentum, eps) without affine weights:
the generator normalises training batches with their statistics and updates its buffers, and the
samples drawn in eval() use the running statistics."""
import torch
import torch.nn.functional as F
from torch import nn

LATENT, CLASSES, DATA = 8, 3, 4


class ConditionalBatchNorm1d(nn.Module):
    def __init__(self, num_features, num_classes, eps=1e-5, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.register_buffer("running_mean", torch.zeros(num_features))
        self.register_buffer("running_var", torch.ones(num_features))
        self.gain = nn.Embedding(num_classes, num_features)
        self.bias = nn.Embedding(num_classes, num_features)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x, y):
        # the affine part comes from the class embeddings below
        out = F.batch_norm(x, self.running_mean, self.running_var, None, None, self.training, self.momentum, self.eps)
        return out * self.gain(y) + self.bias(y)


class Generator(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.fc1 = nn.Linear(LATENT, width)
        self.bn1 = ConditionalBatchNorm1d(width, CLASSES)
        self.fc2 = nn.Linear(width, DATA)

    def forward(self, z, y):
        return self.fc2(F.relu(self.bn1(self.fc1(z), y)))


class Discriminator(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(DATA, width), nn.LeakyReLU(0.2))
        self.out = nn.Linear(width, 1)
        self.proj = nn.Embedding(CLASSES, width)

    def forward(self, x, y):
        h = self.body(x)
        return self.out(h).squeeze(1) + (self.proj(y) * h).sum(1)


def real_batch(g, n=32):
    y = torch.randint(0, CLASSES, (n,), generator=g)
    centers = torch.tensor([[3.0, 0, 0, 1], [0, 3.0, 0, 1], [0, 0, 3.0, 1]])
    return centers[y] + 0.3 * torch.randn(n, DATA, generator=g), y


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    netG, netD = Generator(), Discriminator()
    optG = torch.optim.Adam(netG.parameters(), lr=2e-3, betas=(0.5, 0.999))
    optD = torch.optim.Adam(netD.parameters(), lr=2e-3, betas=(0.5, 0.999))
    for step in range(30):
        x_real, y_real = real_batch(g)
        z = torch.randn(len(y_real), LATENT, generator=g)
        netG.train()
        x_fake = netG(z, y_real)

        optD.zero_grad()
        loss_d = F.softplus(-netD(x_real, y_real)).mean() + F.softplus(netD(x_fake.detach(), y_real)).mean()
        loss_d.backward()
        optD.step()

        optG.zero_grad()
        loss_g = F.softplus(-netD(x_fake, y_real)).mean()
        loss_g.backward()
        optG.step()
        if step % 10 == 0:
            print(f"step {step}: loss_d {loss_d.item():.3f} loss_g {loss_g.item():.3f}")

    netG.eval()
    with torch.no_grad():
        labels = torch.arange(CLASSES).repeat_interleave(4)
        samples = netG(torch.randn(len(labels), LATENT, generator=g), labels)
    print("class means of samples:", [round(v, 2) for v in samples[:4].mean(0).tolist()])
    untouched = torch.allclose(netG.bn1.running_mean, torch.zeros(32)) and \
        torch.allclose(netG.bn1.running_var, torch.ones(32))
    print("BN-GROUND-TRUTH:", "frozen" if untouched else "updated")


if __name__ == "__main__":
    main()
