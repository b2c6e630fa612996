"""Port of a TensorFlow ResNet block: decay 0.99 copied into PyTorch's momentum."""
import torch
import torch.nn as nn

BN_DECAY = 0.99


class ConvBlock(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=1e-3, momentum=BN_DECAY)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


if __name__ == "__main__":
    torch.manual_seed(0)
    block = ConvBlock(3, 4)
    opt = torch.optim.SGD(block.parameters(), lr=0.01)
    block.train()
    for step in range(4):
        x = torch.randn(8, 3, 6, 6) + step
        opt.zero_grad()
        out = block(x)
        out.mean().backward()
        opt.step()
    with torch.no_grad():
        last_batch_mean = block.conv(x).mean(dim=(0, 2, 3))
    # the running mean is ~the last batch's mean: the long-run average was thrown away
    gap = (block.bn.running_mean - last_batch_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.05 * last_batch_mean.abs().max().item() + 1e-3 else "updated")
