"""bnguard.lightning.BNGuardCallback in a real Lightning fit with a freeze injected mid-run."""
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from bnguard.lightning import BNGuardCallback  # noqa: E402
from bnguard.report.log import read_log  # noqa: E402


class Net(pl.LightningModule):
    def __init__(self, break_at=None):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU())
        self.head = nn.Linear(16, 1)
        self.break_at = break_at

    def training_step(self, batch, batch_idx):
        if self.break_at is not None and self.global_step == self.break_at:
            self.body.eval()  # the bug: a helper switches the backbone to eval and never back
        x, y = batch
        return nn.functional.mse_loss(self.head(self.body(x)), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val", nn.functional.mse_loss(self.head(self.body(x)), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def loaders():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, generator=g) * 3 + 2
    y = x.sum(1, keepdim=True)
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=16), DataLoader(ds, batch_size=64)


def fit(model, cb):
    trainer = pl.Trainer(max_steps=30, val_check_interval=8, limit_val_batches=2, accelerator="cpu",
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, callbacks=[cb])
    train, val = loaders()
    trainer.fit(model, train, val)


def test_lightning_healthy_fit_has_no_alerts(tmp_path):
    torch.manual_seed(0)
    cb = BNGuardCallback(logdir=str(tmp_path), every=5, on_alert="record")
    fit(Net(), cb)
    assert cb.alerts == []  # Lightning's validation switches to eval and back: not a problem
    log = read_log(str(tmp_path))
    assert max(r["step"] for r in log.stats) == 30


def test_lightning_freeze_mid_run_is_caught_at_the_right_step(tmp_path):
    torch.manual_seed(0)
    cb = BNGuardCallback(logdir=str(tmp_path), every=5, on_alert="record")
    fit(Net(break_at=12), cb)
    got = {(a.kind, a.layer, a.step) for a in cb.alerts}
    assert ("eval-mode", "body.1", 13) in got  # global_step 12 -> the 13th optimizer step
    assert ("frozen", "body.1", 20) in got
