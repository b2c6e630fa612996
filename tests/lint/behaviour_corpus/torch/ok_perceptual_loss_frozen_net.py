"""Super-resolution with a perceptual loss: the loss network overrides train() to stay in eval (deliberate)."""
import torch
from torch import nn


class PerceptualLoss(nn.Module):
    """Frozen feature network (stands in for a pretrained VGG with BN); never trained, never in train mode."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.requires_grad_(False)
        self.eval()

    def train(self, mode=True):
        return super().train(False)

    def forward(self, output, target):
        return nn.functional.l1_loss(self.features(output), self.features(target))


class Upscaler(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.PReLU(),
                                  nn.Conv2d(8, 12, 3, padding=1))
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, x):
        return self.shuffle(self.body(x))


def validate(generator, batches):
    generator.eval()
    with torch.no_grad():
        return sum(nn.functional.mse_loss(generator(lr), hr).item() for lr, hr in batches)


if __name__ == "__main__":
    torch.manual_seed(0)
    generator, perceptual = Upscaler(), PerceptualLoss()
    loss_bn = perceptual.features[1].running_mean.clone()
    opt = torch.optim.Adam(generator.parameters(), lr=1e-3)
    data = [(torch.rand(4, 3, 6, 6) + 1, torch.rand(4, 3, 12, 12)) for _ in range(3)]
    for epoch in range(3):
        generator.train()
        perceptual.train()  # e.g. done by a parent module; stays in eval thanks to the override
        for lr_img, hr_img in data:
            sr = generator(lr_img)
            loss = nn.functional.l1_loss(sr, hr_img) + 0.1 * perceptual(sr, hr_img)
            opt.zero_grad()
            loss.backward()
            opt.step()
        print("epoch", epoch, "val", validate(generator, data[:1]))
    gen_ok = int(generator.body[1].num_batches_tracked) == 9
    loss_net_fixed = torch.equal(loss_bn, perceptual.features[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if gen_ok and loss_net_fixed else "broken")
