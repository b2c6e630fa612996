"""YOLOv5-style initialize_weights(): every BatchNorm2d gets eps=1e-3 and momentum=0.03 assigned
after construction. Those are PyTorch-convention values (0.03 = 1 - TF's 0.97 decay): the
running statistics are a smooth average, not the last batch."""
import torch
from torch import nn


class Conv(nn.Module):
    def __init__(self, c1, c2, k=3):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c2)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


def initialize_weights(model):
    for m in model.modules():
        t = type(m)
        if t is nn.Conv2d:
            pass  # nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
        elif t is nn.BatchNorm2d:
            m.eps = 1e-3
            m.momentum = 0.03
        elif t in [nn.Hardswish, nn.LeakyReLU, nn.ReLU, nn.ReLU6, nn.SiLU]:
            m.inplace = True


def main(steps=6):
    torch.manual_seed(0)
    model = nn.Sequential(Conv(3, 8), Conv(8, 8), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))
    initialize_weights(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.937, nesterov=True)
    model.train()
    for step in range(steps):
        x = torch.randn(8, 3, 6, 6) + step
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), torch.randint(0, 2, (8,))).backward()
        optimizer.step()
    first = model[0]
    with torch.no_grad():
        last_batch_mean = first.conv(x).mean(dim=(0, 2, 3))
    gap = (first.bn.running_mean - last_batch_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.05 * last_batch_mean.abs().max().item() + 1e-3 else "smooth-average")


if __name__ == "__main__":
    main()
