"""`bnguard diff A B` on real checkpoints: a fine-tune with a frozen backbone BN, a live model vs EMA."""
from __future__ import annotations

import subprocess
import sys

import pytest

from bnguard.checkpoint import diff

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def finetune(tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.BatchNorm1d(8), torch.nn.ReLU(),
                                torch.nn.Linear(8, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)

    def train(steps):
        for _ in range(steps):
            loss = model(torch.randn(8, 6) * 2 + 1).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()

    model.train()
    train(3)
    torch.save(model.state_dict(), out / "before.pt")
    model.train()
    model[1].eval()  # noqa: BN302 -- the "frozen backbone": its BN keeps its pretrained statistics
    train(3)
    torch.save(model.state_dict(), out / "after.pt")
    return str(out / "before.pt"), str(out / "after.pt")


def test_frozen_backbone_bn_unchanged_head_changed(finetune):
    rep = diff(*finetune)
    assert rep.verdicts() == {"1": "unchanged", "4": "changed"}
    assert rep.ok and rep.summary == "1 of 2 BN layers changed, 1 unchanged"
    assert rep["4"].data["num_batches_tracked"] == [3, 6]
    assert not diff(*finetune, expect="unchanged").ok
    assert diff(finetune[0], finetune[0], expect="unchanged").ok


def test_live_model_vs_its_ema_copy(torch_ckpts, tmp_path):
    sd = torch.load(torch_ckpts["with_ema"], weights_only=True)
    torch.save(sd["model"], tmp_path / "live.pt")
    torch.save(sd["ema"], tmp_path / "ema.pt")
    rep = diff(tmp_path / "live.pt", tmp_path / "ema.pt", expect="changed")
    assert rep.verdicts() == {"1": "changed", "5": "changed"}  # the EMA stats differ from the live ones


def test_same_weights_across_formats_are_unchanged(torch_ckpts):
    rep = diff(torch_ckpts["good"], torch_ckpts["good_st"])
    assert set(rep.verdicts().values()) == {"unchanged"} and len(rep) == 2


def test_diff_cli(finetune):
    proc = subprocess.run([sys.executable, "-m", "bnguard", "diff", "--expect", "unchanged", *finetune],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout.startswith("1 of 2 BN layers changed")
    missing = subprocess.run([sys.executable, "-m", "bnguard", "diff", finetune[0], "/nonexistent.pt"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
