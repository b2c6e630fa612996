"""Lightning module: the Trainer switches train/eval modes around validation itself."""
import tempfile
import warnings

import torch
from torch import nn

try:
    import lightning.pytorch as pl
except ImportError:  # older installs
    import pytorch_lightning as pl


class LitClassifier(pl.LightningModule):
    def __init__(self, lr=0.05):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
        self.lr = lr
        self.val_changed = False

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def on_validation_batch_start(self, batch, batch_idx, dataloader_idx=0):
        self._before = self.net[1].running_mean.clone()

    def validation_step(self, batch, batch_idx):
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.val_changed |= not torch.equal(self._before, self.net[1].running_mean)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def loader(n, shift):
    ds = torch.utils.data.TensorDataset(torch.randn(n, 6) + shift, torch.randint(0, 2, (n,)))
    return torch.utils.data.DataLoader(ds, batch_size=8)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    torch.manual_seed(0)
    model = LitClassifier()
    trainer = pl.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, accelerator="cpu",
                         default_root_dir=tempfile.mkdtemp(), num_sanity_val_steps=0)
    trainer.fit(model, loader(32, 1.0), loader(16, 5.0))
    updated = not torch.equal(model.net[1].running_mean, torch.zeros(8))
    print("BN-GROUND-TRUTH:", "contaminated" if model.val_changed else ("updated" if updated else "frozen"))
