"""Port of a TensorFlow model: TF's decay is converted to PyTorch's convention before it is passed
positionally, `nn.BatchNorm1d(features, 1e-3, 1 - 0.99)`: the running statistics are a slow average of the
batches, as in the TF original."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3
BN_DECAY = 0.99  # tf.layers.batch_normalization default
BN_MOMENTUM = 1.0 - BN_DECAY  # PyTorch: weight of the new batch


class TabularNet(nn.Module):
    def __init__(self, d_in=12, widths=(32, 16), n_out=2):
        super().__init__()
        layers = []
        for width in widths:
            layers += [nn.Linear(d_in, width), nn.BatchNorm1d(width, BN_EPS, BN_MOMENTUM), nn.ReLU()]
            d_in = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Linear(d_in, n_out)

    def forward(self, x):
        return self.out(self.body(x))


if __name__ == "__main__":
    torch.manual_seed(0)
    model = TabularNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for step in range(8):
        x = torch.randn(32, 12) * 2 + torch.randn(1, 12) * 3
        y = (x[:, 0] > 0).long()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    bn = model.body[1]
    with torch.no_grad():
        last_mean = model.body[0](x).mean(dim=0)
    gap = (bn.running_mean - last_mean).abs().max() / last_mean.abs().max()
    moved = bool(bn.running_mean.abs().sum() > 0)
    print("BN-GROUND-TRUTH:", "updated" if moved and gap > 0.05 else "jumped")
