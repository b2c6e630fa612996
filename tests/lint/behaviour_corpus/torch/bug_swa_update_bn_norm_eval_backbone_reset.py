"""mmdet-style detector with a pretrained backbone kept in norm_eval mode: Backbone.train(mode) calls
super().train(mode) and then puts its BatchNorm layers back in eval, so the pretrained statistics stay
fixed while the neck's BatchNorm trains. The recipe adds SWA on top: swa_model = AveragedModel(model),
update_parameters() every epoch after swa_start, and torch.optim.swa_utils.update_bn(loader, swa_model)
before evaluation. update_bn() resets EVERY BatchNorm's running stats and then calls model.train(),
which the backbone override turns back into eval for its own BN: those layers see no update and the
averaged detector is evaluated with 0 / 1 backbone statistics instead of the pretrained ones."""
import torch
from torch import nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn

CFG = dict(epochs=4, swa_start=2, lr=0.05, swa_lr=0.02, norm_eval=True)


class Backbone(nn.Module):
    def __init__(self, norm_eval=True):
        super().__init__()
        self.norm_eval = norm_eval
        self.stem = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())

    def init_weights(self):
        torch.manual_seed(123)
        with torch.no_grad():  # stands in for loading an ImageNet checkpoint
            pretrain = [torch.randn(64, 6) * 2 + 3 for _ in range(10)]
            feats = torch.cat([self.stem[0](x) for x in pretrain])
            self.stem[1].running_mean.copy_(feats.mean(0))
            self.stem[1].running_var.copy_(feats.var(0))
        self.requires_grad_(False)

    def train(self, mode=True):
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x):
        return self.stem(x)


class Detector(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.backbone = Backbone(norm_eval=cfg["norm_eval"])
        self.neck = nn.Sequential(nn.Linear(16, 12), nn.BatchNorm1d(12), nn.ReLU())
        self.head = nn.Linear(12, 2)

    def forward(self, x):
        return self.head(self.neck(self.backbone(x)))


def main():
    torch.manual_seed(0)
    model = Detector(CFG)
    model.backbone.init_weights()
    pretrained = model.backbone.stem[1].running_mean.clone()
    swa_model = AveragedModel(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=CFG["lr"], momentum=0.9)
    swa_scheduler = SWALR(optimizer, swa_lr=CFG["swa_lr"])
    loader = [(torch.randn(32, 6) * 2 + 3, torch.randn(32, 2)) for _ in range(5)]
    for epoch in range(CFG["epochs"]):
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(x), y).backward()
            optimizer.step()
        if epoch >= CFG["swa_start"]:
            swa_model.update_parameters(model)
            swa_scheduler.step()
    update_bn(loader, swa_model)
    swa_model.eval()
    with torch.no_grad():
        val = sum(nn.functional.mse_loss(swa_model(x), y).item() for x, y in loader) / len(loader)
    print(f"swa val mse {val:.3f}")
    stem_bn = swa_model.module.backbone.stem[1]
    neck_bn = swa_model.module.neck[1]
    neck_tracked = not torch.allclose(neck_bn.running_mean, torch.zeros_like(neck_bn.running_mean))
    if torch.allclose(stem_bn.running_mean, pretrained, atol=1e-4) and neck_tracked:
        verdict = "backbone-frozen-by-design"
    elif torch.allclose(stem_bn.running_mean, torch.zeros_like(pretrained)):
        verdict = "reset"
    else:
        verdict = "drifted"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
