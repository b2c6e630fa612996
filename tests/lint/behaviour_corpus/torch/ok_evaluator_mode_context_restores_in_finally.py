"""Trainer + Evaluator split (evaluator in its own section, like an evaluation.py module). The
Evaluator switches the model with an `inference()` context manager that restores the previous mode
after the `yield`. Its AUROC raises ValueError when a validation split holds a single class; fit()
catches the error and logs NaN. The restore sits in a `finally:` around the `yield`, so the model is
back in train mode even when the metric raises; fit() only calls model.train() once before the loop."""
import contextlib
import logging

import torch
from torch import nn

log = logging.getLogger("train")


@contextlib.contextmanager
def inference(model):
    previous = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(previous)


def auroc(scores, labels):
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise ValueError("Only one class present in y_true. ROC AUC score is not defined.")
    return (pos[:, None] > neg[None, :]).float().mean().item()


class Evaluator:
    def __init__(self, loader):
        self.loader = loader

    def __call__(self, model):
        with inference(model):
            scores = torch.cat([model(x).squeeze(1) for x, _ in self.loader])
            labels = torch.cat([y for _, y in self.loader])
            return {"auroc": auroc(scores, labels), "mean_score": scores.mean().item()}


class Trainer:
    def __init__(self, model, evaluator, lr=1e-2):
        self.model = model
        self.evaluator = evaluator
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.loss_fn = nn.BCEWithLogitsLoss()
        self.tracked = []

    def fit(self, loader, epochs):
        self.model.train()
        for epoch in range(epochs):
            for x, y in loader:
                self.opt.zero_grad()
                self.loss_fn(self.model(x).squeeze(1), y.float()).backward()
                self.opt.step()
            try:
                metrics = self.evaluator(self.model)
            except ValueError as err:
                log.warning("epoch %d: %s", epoch, err)
                metrics = {"auroc": float("nan")}
            self.tracked.append(int(self.model[1].num_batches_tracked))
            print(f"epoch {epoch} {metrics}")


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    def split(n, only_positive=False):
        out = []
        for _ in range(n):
            x = torch.randn(16, 6, generator=gen) + 1.5
            y = torch.ones(16, dtype=torch.long) if only_positive else (x[:, 0] > 1.5).long()
            out.append((x, y))
        return out
    model = nn.Sequential(nn.Linear(6, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 1))
    trainer = Trainer(model, Evaluator(split(1, only_positive=True)))
    train_loader = split(4)
    trainer.fit(train_loader, epochs=3)
    per_epoch = [b - a for a, b in zip([0] + trainer.tracked, trainer.tracked)]
    print("BN updates per epoch:", per_epoch)
    if all(n == len(train_loader) for n in per_epoch):
        verdict = "updated"
    elif per_epoch[0] == len(train_loader) and all(n == 0 for n in per_epoch[1:]):
        verdict = "stale"
    else:
        verdict = "frozen" if sum(per_epoch) == 0 else "broken"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
