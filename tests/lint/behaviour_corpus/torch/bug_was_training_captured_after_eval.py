"""Step-based trainer whose evaluate() tries to restore the caller's mode, but reads
`was_training = self.model.training` AFTER calling eval(): it always "restores" eval mode. From
the first evaluation on, every training step runs BatchNorm with frozen running statistics."""
import torch
import torch.nn.functional as F
from torch import nn

HPARAMS = dict(max_steps=9, eval_every=3, lr=0.05, batch_size=8)


class Trainer:
    def __init__(self, model, hparams):
        self.model = model
        self.hparams = hparams
        self.optimizer = torch.optim.SGD(model.parameters(), lr=hparams["lr"])
        self.step = 0

    @torch.no_grad()
    def evaluate(self, batches):
        self.model.eval()
        was_training = self.model.training
        loss = sum(F.cross_entropy(self.model(x), y).item() for x, y in batches) / len(batches)
        self.model.train(was_training)
        return loss

    def training_step(self, x, y):
        self.optimizer.zero_grad()
        loss = F.cross_entropy(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        self.step += 1
        return loss.item()

    def fit(self, data, val_data):
        self.model.train()
        while self.step < self.hparams["max_steps"]:
            for x, y in data:
                self.training_step(x, y)
                if self.step % self.hparams["eval_every"] == 0:
                    print("step", self.step, "val loss", self.evaluate(val_data))
                if self.step >= self.hparams["max_steps"]:
                    break


def main():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 10), nn.BatchNorm1d(10), nn.ReLU(), nn.Linear(10, 2))
    bs = HPARAMS["batch_size"]
    data = [(torch.randn(bs, 4) + 2, torch.randint(0, 2, (bs,))) for _ in range(3)]
    val_data = [(torch.randn(bs, 4), torch.randint(0, 2, (bs,)))]
    trainer = Trainer(model, HPARAMS)
    trainer.fit(data, val_data)
    tracked = model[1].num_batches_tracked.item()
    print("BN batches tracked", tracked, "of", trainer.step, "steps")
    print("BN-GROUND-TRUTH:", "stale" if tracked < trainer.step else "updated")


if __name__ == "__main__":
    main()
