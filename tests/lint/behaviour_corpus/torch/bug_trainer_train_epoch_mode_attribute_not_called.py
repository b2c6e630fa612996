"""Config-driven trainer: a dataclass config names the model in a registry, a Trainer runs
callbacks (on_epoch_start / on_validation_start / on_epoch_end) around train_epoch() and
evaluate(). train_epoch() starts with `self.model.train` -- the bound method, never called --
while evaluate() calls self.model.eval(): from the second epoch on the optimizer steps run with
BatchNorm in eval mode and its running statistics stop following the training data."""
from dataclasses import dataclass, field
from typing import Callable, Dict, List

import torch
import torch.nn.functional as F
from torch import nn

MODELS: Dict[str, Callable[..., nn.Module]] = {}


def register(name):
    def wrap(fn):
        MODELS[name] = fn
        return fn
    return wrap


@register("mlp_bn")
def mlp_bn(in_dim, num_classes, width=24):
    return nn.Sequential(nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.ReLU(),
                         nn.Linear(width, num_classes))


@dataclass
class TrainConfig:
    arch: str = "mlp_bn"
    in_dim: int = 6
    num_classes: int = 3
    epochs: int = 3
    lr: float = 0.05
    batch_size: int = 16
    model_kwargs: dict = field(default_factory=lambda: {"width": 24})


class Callback:
    def on_epoch_start(self, trainer, epoch): ...
    def on_validation_start(self, trainer, epoch): ...
    def on_epoch_end(self, trainer, epoch, metrics): ...


class History(Callback):
    def __init__(self):
        self.rows = []

    def on_epoch_end(self, trainer, epoch, metrics):
        bn = trainer.model[1]
        self.rows.append({"epoch": epoch, "tracked": int(bn.num_batches_tracked),
                          "mean": bn.running_mean.clone(), **metrics})
        print(f"epoch {epoch}: loss {metrics['loss']:.3f} val_acc {metrics['val_acc']:.3f}")


class Trainer:
    def __init__(self, cfg: TrainConfig, callbacks: List[Callback]):
        self.cfg = cfg
        self.model = MODELS[cfg.arch](cfg.in_dim, cfg.num_classes, **cfg.model_kwargs)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=cfg.lr, momentum=0.9)
        self.callbacks = callbacks

    def _emit(self, hook, *args):
        for cb in self.callbacks:
            getattr(cb, hook)(self, *args)

    def train_epoch(self, loader):
        self.model.train
        total = 0.0
        for xb, yb in loader:
            self.optimizer.zero_grad()
            loss = F.cross_entropy(self.model(xb), yb)
            loss.backward()
            self.optimizer.step()
            total += loss.item()
        return total / len(loader)

    @torch.no_grad()
    def evaluate(self, loader):
        self.model.eval()
        hits = sum((self.model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
        return hits / sum(len(yb) for _, yb in loader)

    def fit(self, train_loader, val_loader):
        for epoch in range(self.cfg.epochs):
            self._emit("on_epoch_start", epoch)
            loss = self.train_epoch(train_loader)
            self._emit("on_validation_start", epoch)
            val_acc = self.evaluate(val_loader)
            self._emit("on_epoch_end", epoch, {"loss": loss, "val_acc": val_acc})


def make_loader(n, shift, seed, batch_size):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g) + shift
    y = torch.randint(0, 3, (n,), generator=g)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]


def main():
    torch.manual_seed(0)
    cfg = TrainConfig()
    history = History()
    trainer = Trainer(cfg, callbacks=[history])
    train_loader = make_loader(64, 2.0, seed=1, batch_size=cfg.batch_size)
    val_loader = make_loader(32, 2.0, seed=2, batch_size=cfg.batch_size)
    trainer.fit(train_loader, val_loader)
    tracked = [row["tracked"] for row in history.rows]
    steps_per_epoch = len(train_loader)
    expected = [steps_per_epoch * (e + 1) for e in range(cfg.epochs)]
    print("BN-GROUND-TRUTH:", "updated" if tracked == expected else "stale")


if __name__ == "__main__":
    main()
