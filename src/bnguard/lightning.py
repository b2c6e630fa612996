"""PyTorch Lightning integration: ``Trainer(callbacks=[bnguard.lightning.BNGuardCallback()])``.

It attaches a `bnguard.torch.Monitor` to the LightningModule for the duration of ``fit`` and counts
optimizer steps with ``trainer.global_step`` (so gradient accumulation and manual optimization are
handled by Lightning's own step counter). Requires the ``lightning`` extra.
"""
from __future__ import annotations

import os
from typing import Iterable, Optional

try:  # the unified package first, the standalone one as a fallback
    from lightning.pytorch.callbacks import Callback
except ImportError:  # pragma: no cover - depends on what is installed
    from pytorch_lightning.callbacks import Callback  # type: ignore[no-redef]

from bnguard.monitoring import OnAlert
from bnguard.torch.monitor import Monitor


class BNGuardCallback(Callback):
    """Record BN statistics every ``every`` optimizer steps and alert on freezes.

    ``logdir`` defaults to ``<trainer.log_dir>/bnguard`` when the trainer has a logger, else no log
    file is written (alerts still fire). ``callback.alerts`` lists what was found.
    """

    def __init__(self, logdir: Optional[str] = None, every: int = 100, on_alert: OnAlert = "warn",
                 ignore: Iterable[str] = ()):
        self.logdir, self.every, self.on_alert, self.ignore = logdir, every, on_alert, tuple(ignore)
        self.monitor: Optional[Monitor] = None
        self._seen_steps = 0
        self.alerts = []

    def on_fit_start(self, trainer, pl_module) -> None:
        logdir = self.logdir
        if logdir is None and trainer.logger is not None and trainer.log_dir:
            logdir = os.path.join(trainer.log_dir, "bnguard")
        if logdir and trainer.world_size > 1:
            logdir = os.path.join(logdir, f"rank{trainer.global_rank}")
        self.monitor = Monitor(pl_module, None, logdir=logdir, every=self.every, on_alert=self.on_alert,
                               ignore=self.ignore)
        self._seen_steps = trainer.global_step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.monitor is None:
            return
        while self._seen_steps < trainer.global_step:  # one monitor step per optimizer step
            self._seen_steps += 1
            self.monitor.step()

    def _close(self) -> None:
        if self.monitor is not None:
            self.alerts = self.monitor.alerts
            self.monitor.close()
            self.monitor = None

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._close()
