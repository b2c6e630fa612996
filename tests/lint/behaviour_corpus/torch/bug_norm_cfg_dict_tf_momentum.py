"""mmcv-style model config ported from a TensorFlow release: the norm config dict carries the TF
decay (momentum=0.99, eps=1e-3) and build_norm_layer() splats it into nn.BatchNorm2d, where
momentum is the weight of the NEW batch: the running statistics follow the last batch only."""
from torch import nn
import torch

NORM_LAYERS = {"BN": nn.BatchNorm2d, "BN1d": nn.BatchNorm1d}

MODEL_CFG = dict(
    widths=(8, 16),
    # values copied from the official TF implementation
    norm_cfg=dict(type="BN", momentum=0.99, eps=1e-3),
)


def build_norm_layer(cfg, num_features):
    cfg = dict(cfg)
    layer_type = cfg.pop("type")
    return NORM_LAYERS[layer_type](num_features, **cfg)


class ConvModule(nn.Module):
    def __init__(self, cin, cout, norm_cfg):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = build_norm_layer(norm_cfg, cout)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Backbone(nn.Module):
    def __init__(self, widths, norm_cfg):
        super().__init__()
        layers, cin = [], 3
        for w in widths:
            layers.append(ConvModule(cin, w, norm_cfg))
            cin = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(cin, 2)

    def forward(self, x):
        return self.head(self.layers(x).mean(dim=(2, 3)))


def main():
    torch.manual_seed(0)
    model = Backbone(**MODEL_CFG)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for step in range(4):
        x = torch.randn(8, 3, 6, 6) + step
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), torch.randint(0, 2, (8,))).backward()
        optimizer.step()
    first = model.layers[0]
    with torch.no_grad():
        last_batch_mean = first.conv(x).mean(dim=(0, 2, 3))
    gap = (first.bn.running_mean - last_batch_mean).abs().max().item()
    print("BN-GROUND-TRUTH:", "jumped" if gap < 0.05 * last_batch_mean.abs().max().item() + 1e-3 else "updated")


if __name__ == "__main__":
    main()
