"""Port of a TensorFlow model: the BN layers were written as `nn.BatchNorm1d(features, 1e-3, 0.99)`,
i.e. TF's (epsilon, decay) passed positionally into PyTorch's (eps, momentum). PyTorch's momentum is the
weight of the NEW batch, so each running statistic is 99 % the last batch's: the running statistics jump
to the last batch instead of averaging."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BN_EPS = 1e-3
BN_DECAY = 0.99  # tf.layers.batch_normalization default


class TabularNet(nn.Module):
    def __init__(self, d_in=12, widths=(32, 16), n_out=2):
        super().__init__()
        layers = []
        for width in widths:
            layers += [nn.Linear(d_in, width), nn.BatchNorm1d(width, BN_EPS, BN_DECAY), nn.ReLU()]
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
    # the momentum-0.99 EMA is within ~1 % of the last batch, whatever the earlier batches were
    gap = (bn.running_mean - last_mean).abs().max() / last_mean.abs().max()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.05 else "updated")
