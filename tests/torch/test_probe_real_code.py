"""The probe on code shaped like real projects: SyncBatchNorm, hand-written BN, frozen backbones."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from bnguard.torch import freeze_bn, probe  # noqa: E402

from _probe_models import BN_NAMES, TinyResNet, make_batch, train_step_fn  # noqa: E402
from _state_compare import assert_same_state, full_state  # noqa: E402


def test_sync_batchnorm_single_process_is_probed():
    torch.manual_seed(0)
    model = nn.SyncBatchNorm.convert_sync_batchnorm(TinyResNet())
    assert isinstance(model.stem[1], nn.SyncBatchNorm)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    before = full_state(model, opt)
    report = probe(model, train_step_fn(model, opt, make_batch()), optimizer=opt)
    assert report.verdicts() == {n: "updated" for n in BN_NAMES}
    assert_same_state(before, full_state(model, opt))


class ChannelsLastBN(nn.Module):
    """A hand-written BN over the last axis, TF-style (`momentum` = share of the old value)."""

    def __init__(self, features: int, momentum: float = 0.99, update: bool = True):
        super().__init__()
        self.momentum, self.update = momentum, update
        self.gamma = nn.Parameter(torch.ones(features))
        self.beta = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x):
        if self.training:
            dims = tuple(range(x.dim() - 1))
            mean, var = x.mean(dims), x.var(dims, unbiased=False)
            if self.update:
                with torch.no_grad():
                    self.running_mean.mul_(self.momentum).add_((1 - self.momentum) * mean)
                    n = x.numel() / x.shape[-1]
                    self.running_var.mul_(self.momentum).add_((1 - self.momentum) * var * n / (n - 1))
        else:
            mean, var = self.running_mean, self.running_var
        return (x - mean) / torch.sqrt(var + 1e-5) * self.gamma + self.beta


class TokenMLP(nn.Module):
    def __init__(self, **bn_kwargs):
        super().__init__()
        self.fc1 = nn.Linear(6, 8)
        self.norm = ChannelsLastBN(8, **bn_kwargs)
        self.fc2 = nn.Linear(8, 1)

    def forward(self, x):  # (batch, tokens, features): channels last
        return self.fc2(torch.relu(self.norm(self.fc1(x)))).mean()


@pytest.mark.parametrize("kwargs,verdict,fraction", [
    ({"momentum": 0.99}, "updated", 0.01),               # TF convention written correctly
    ({"momentum": 0.01}, "suspicious-momentum", 0.99),   # PyTorch's value in TF-style code
    ({"update": False}, "frozen-no-update", None),       # never writes its buffers
])
def test_hand_written_channels_last_bn(kwargs, verdict, fraction):
    torch.manual_seed(0)
    model = TokenMLP(**kwargs)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(4, 5, 6) * 2 + 1

    def step():
        opt.zero_grad()
        model(x).backward()
        opt.step()

    report = probe(model, step, optimizer=opt)
    assert report.verdicts() == {"norm": verdict}
    if fraction is not None:
        assert report["norm"].data["observed_fraction"] == pytest.approx(fraction, abs=1e-3)


class Classifier(nn.Module):
    """Transfer learning: a pretrained-style backbone and a new head."""

    def __init__(self):
        super().__init__()
        self.backbone = TinyResNet()
        self.backbone.fc = nn.Identity()
        self.head = nn.Sequential(nn.Linear(16, 16), nn.BatchNorm1d(16), nn.Linear(16, 3))

    def forward(self, x):
        return self.head(self.backbone(x))


def test_backbone_eval_once_is_undone_by_train_and_caught():
    torch.manual_seed(0)
    model = Classifier()
    model.backbone.eval()  # "freeze" once at setup ...
    for p in model.backbone.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    x, y = make_batch()
    y = y % 3
    step = train_step_fn(model, opt, (x, y))  # ... and model.train() every step undoes it
    report = probe(model, step, optimizer=opt, expect_frozen=["backbone"])
    backbone = {n: v for n, v in report.verdicts().items() if n.startswith("backbone.")}
    assert set(backbone.values()) == {"updated-despite-freeze"}
    assert report.verdicts()["head.1"] == "updated"

    freeze_bn(model.backbone)  # the freeze that holds
    report = probe(model, step, optimizer=opt, expect_frozen=["backbone"])
    assert report.ok, str(report)
