"""Training script that, after fitting, prints a model-complexity report (parameter count and MACs
counted with forward hooks on a dummy random input) and then saves the checkpoint. The report
remembers the model's mode, runs its dummy forward in eval mode and restores the mode: the saved
BatchNorm running statistics are the trained ones."""
import io

import torch
from torch import nn


def build_net(channels=6, n_classes=3):
    return nn.Sequential(
        nn.Conv2d(3, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
        nn.Conv2d(channels, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, n_classes))


def complexity_report(model, input_shape):
    macs = []

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            macs.append(out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1])
        elif isinstance(mod, nn.Linear):
            macs.append(mod.in_features * mod.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.randn(1, *input_shape) * 4.0 + 5.0)
    model.train(was_training)
    for h in handles:
        h.remove()
    n_params = sum(p.numel() for p in model.parameters())
    return {"params": n_params, "macs": sum(macs)}


def fit(model, steps=6):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(steps):
        x = torch.randn(8, 3, 12, 12)
        y = torch.randint(0, 3, (8,))
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()


def main():
    torch.manual_seed(3)
    model = build_net()
    fit(model)
    bn = model[1]
    trained_mean = bn.running_mean.clone()
    trained_var = bn.running_var.clone()
    stats = complexity_report(model, (3, 12, 12))
    print(f"params={stats['params']} macs={stats['macs']}")
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    saved = torch.load(buffer)
    changed = not (torch.allclose(saved["1.running_mean"], trained_mean)
                   and torch.allclose(saved["1.running_var"], trained_var))
    print("BN-GROUND-TRUTH:", "jumped" if changed else "updated")


if __name__ == "__main__":
    main()
