"""Experiment config in YAML (ported from a TensorFlow reference implementation). After the model is
built, configure_norm_layers() copies every key of the `norm:` section onto each BatchNorm module
with setattr. The section keeps the reference's momentum: 0.99 (a TF moving-average decay); in
PyTorch that weighs each new batch by 0.99, so the running statistics follow the last batch."""
import yaml
import torch
from torch import nn

EXPERIMENT = """
model:
  in_channels: 3
  widths: [8, 16]
  num_classes: 5
norm:
  momentum: 0.99
  eps: 1.0e-3
optim:
  lr: 0.05
  momentum: 0.9
  steps: 6
"""


def conv_bn(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU())


class SmallResNetish(nn.Module):
    def __init__(self, in_channels, widths, num_classes):
        super().__init__()
        layers, c = [], in_channels
        for w in widths:
            layers.append(conv_bn(c, w))
            c = w
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(c, num_classes)

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


def configure_norm_layers(model, norm_cfg):
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            for key, value in norm_cfg.items():
                setattr(module, key, value)


def main():
    cfg = yaml.safe_load(EXPERIMENT)
    torch.manual_seed(0)
    model = SmallResNetish(**cfg["model"])
    configure_norm_layers(model, cfg["norm"])
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg["optim"]["lr"], momentum=cfg["optim"]["momentum"])
    first_norm = model.features[0][1]
    batch_means = []
    capture = first_norm.register_forward_pre_hook(
        lambda mod, inp: batch_means.append(inp[0].detach().mean(dim=(0, 2, 3))))
    model.train()
    for step in range(cfg["optim"]["steps"]):
        x = torch.randn(8, 3, 8, 8) + 0.5 * step
        y = torch.randint(0, cfg["model"]["num_classes"], (8,))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    capture.remove()
    running = first_norm.running_mean
    gap_to_last = (running - batch_means[-1]).norm().item()
    spread = (batch_means[-1] - batch_means[0]).norm().item()
    print(f"|running - last batch| = {gap_to_last:.4f}, |last - first batch| = {spread:.4f}")
    print("BN-GROUND-TRUTH:", "jumped" if gap_to_last < 0.05 * spread else "smooth-average")


if __name__ == "__main__":
    main()
