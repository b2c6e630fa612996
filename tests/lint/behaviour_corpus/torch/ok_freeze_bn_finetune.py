"""Detection-style fine-tuning: model.train() then freeze_bn() puts BN layers back in eval (deliberate)."""
import torch
import torch.nn as nn


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Conv2d(4, 2, 1)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))))

    def freeze_bn(self):
        for module in self.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.eval()
                module.weight.requires_grad = False
                module.bias.requires_grad = False


def train(model, steps=3):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01)
    for _ in range(steps):
        model.train()
        model.freeze_bn()
        opt.zero_grad()
        model(torch.randn(4, 3, 8, 8)).mean().backward()
        opt.step()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = Backbone()
    model.freeze_bn()
    pretrained_mean = model.bn.running_mean.clone()
    train(model)
    print("BN-GROUND-TRUTH:", "frozen-by-design" if torch.equal(pretrained_mean, model.bn.running_mean) else "updated")
