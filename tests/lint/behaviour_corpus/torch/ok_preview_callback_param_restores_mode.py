"""Convolutional autoencoder trainer. train() takes an optional `on_log(model, step)` callback that it
calls every `log_every` optimizer steps; main() passes functools.partial(save_reconstructions, ...),
which renders a fixed batch in eval() mode for the image log and restores the mode it found, so the
train mode set once before the step loop stays in force."""
import functools
import io

import torch
from torch import nn


class ConvAutoencoder(nn.Module):
    def __init__(self, channels=1, width=8):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(channels, width, 3, stride=2, padding=1), nn.BatchNorm2d(width),
                                     nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


def save_reconstructions(model, step, fixed_batch, sink):
    """Write originals and reconstructions side by side (a PNG grid in the real script)."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        recon = model(fixed_batch)
    model.train(was_training)
    torch.save({"step": step, "grid": torch.cat([fixed_batch, recon], dim=3)}, sink)


def train(model, loader, optimizer, max_steps, log_every=4, on_log=None):
    model.train()
    step = 0
    while step < max_steps:
        for images in loader:
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(model(images), images)
            loss.backward()
            optimizer.step()
            step += 1
            if on_log is not None and step % log_every == 0:
                on_log(model, step)
            if step == max_steps:
                break
    return step


def main():
    torch.manual_seed(0)
    loader = [torch.rand(8, 1, 8, 8) for _ in range(4)]
    model = ConvAutoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    preview = functools.partial(save_reconstructions, fixed_batch=loader[0][:4], sink=io.BytesIO())
    steps = train(model, loader, optimizer, max_steps=12, on_log=preview)
    tracked = int(model.encoder[1].num_batches_tracked)
    print(f"{steps} optimizer steps, BN tracked {tracked} batches")
    print("BN-GROUND-TRUTH:", "stale" if tracked < steps else "updated")


if __name__ == "__main__":
    main()
