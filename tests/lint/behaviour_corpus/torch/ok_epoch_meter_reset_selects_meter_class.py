"""Lightning-flavoured classifier that keeps its metric meters as submodules (so .to(device) moves
them, like torchmetrics). The meters expose reset_running_stats(), and the trainer's end-of-epoch
hook resets them with a walk over model.modules() that selects isinstance(m, RunningMeter): the
BatchNorm1d layer (which has a reset_running_stats() too) keeps the statistics it learned."""
import torch
from torch import nn

CONFIG = {"epochs": 3, "lr": 0.05, "batch_size": 32, "train_batches": 6, "seed": 0}


class RunningMeter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros(()))
        self.register_buffer("count", torch.zeros(()))

    def update(self, value, n=1):
        self.total += float(value) * n
        self.count += n

    def compute(self):
        return (self.total / self.count.clamp(min=1)).item()

    def reset_running_stats(self):
        self.total.zero_()
        self.count.zero_()


class LitClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbone = nn.Sequential(nn.Linear(8, 24), nn.BatchNorm1d(24), nn.ReLU())
        self.head = nn.Linear(24, 4)
        self.train_loss = RunningMeter()
        self.val_acc = RunningMeter()

    def forward(self, x):
        return self.head(self.backbone(x))

    def training_step(self, x, y):
        loss = nn.functional.cross_entropy(self(x), y)
        self.train_loss.update(loss.item(), len(y))
        return loss

    @torch.no_grad()
    def validation_step(self, x, y):
        acc = (self(x).argmax(1) == y).float().mean()
        self.val_acc.update(acc.item(), len(y))


def reset_epoch_state(module):
    for m in module.modules():
        if isinstance(m, RunningMeter):
            m.reset_running_stats()


class Trainer:
    def __init__(self, cfg):
        self.cfg = cfg
        self.history = []

    def on_train_epoch_end(self, model, epoch):
        self.history.append((epoch, model.train_loss.compute()))
        reset_epoch_state(model)

    def fit(self, model, train_batches, val_batches):
        optimizer = torch.optim.SGD(model.parameters(), lr=self.cfg["lr"], momentum=0.9)
        for epoch in range(self.cfg["epochs"]):
            model.train()
            for x, y in train_batches:
                optimizer.zero_grad()
                model.training_step(x, y).backward()
                optimizer.step()
            self.on_train_epoch_end(model, epoch)
            model.eval()
            for x, y in val_batches:
                model.validation_step(x, y)
            print(f"epoch {epoch} loss {self.history[-1][1]:.3f} val acc {model.val_acc.compute():.2f}")


def make_batches(n, seed):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        x = torch.randn(CONFIG["batch_size"], 8, generator=g) * 2.0 + 1.5
        out.append((x, (x[:, :4] * torch.arange(1.0, 5.0)).argmax(1)))
    return out


def main():
    torch.manual_seed(CONFIG["seed"])
    model = LitClassifier()
    train_batches = make_batches(CONFIG["train_batches"], seed=1)
    Trainer(CONFIG).fit(model, train_batches, make_batches(2, seed=2))
    bn = model.backbone[1]
    with torch.no_grad():
        feats = torch.cat([model.backbone[0](x) for x, _ in train_batches])
    if torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean)) and \
            torch.allclose(bn.running_var, torch.ones_like(bn.running_var)):
        verdict = "reset"
    elif (bn.running_mean - feats.mean(0)).abs().max() < 0.5 * feats.mean(0).abs().max():
        verdict = "updated"
    else:
        verdict = "stale"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
