"""Two-stage transfer recipe (linear probe, then full fine-tuning) with bf16 autocast and gradient
accumulation. run_epoch() was written for the probe stage: it switches only model.head to train
mode, because the pretrained encoder must stay in eval while it is frozen. The fine-tuning stage
unfreezes the encoder and reuses run_epoch(); evaluate() has put the whole model in eval, so the
encoder's BatchNorm layers keep the pretraining statistics while their weights are trained."""
import torch
import torch.nn.functional as F
from torch import nn

HPARAMS = {
    "probe": {"epochs": 2, "lr": 0.05, "accum_steps": 2},
    "finetune": {"epochs": 3, "lr": 0.01, "accum_steps": 2},
}


class Encoder(nn.Module):
    def __init__(self, in_dim=12, width=32):
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(in_dim, width), nn.BatchNorm1d(width), nn.GELU(),
                                    nn.Linear(width, width), nn.BatchNorm1d(width), nn.GELU())

    def forward(self, x):
        return self.layers(x)


class Classifier(nn.Module):
    def __init__(self, encoder, width=32, classes=3):
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.encoder(x))


def batches(n, shift, seed, size=16):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 12, generator=g) * 2.0 + shift
    y = (x[:, :4].mean(1) > shift).long() + (x[:, 4] > shift).long()
    return [(x[i:i + size], y[i:i + size]) for i in range(0, n, size)]


def pretrain_encoder(loader):
    encoder = Encoder()
    model = Classifier(encoder)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for _ in range(2):
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    return encoder


def run_epoch(model, loader, optimizer, accum_steps):
    # the encoder stays in eval (frozen BN) while probing; only the head is in train mode
    model.head.train()
    optimizer.zero_grad()
    for step, (xb, yb) in enumerate(loader, 1):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(xb), yb) / accum_steps
        loss.backward()
        if step % accum_steps == 0:
            optimizer.step()
            optimizer.zero_grad()


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
    return hits / sum(len(yb) for _, yb in loader)


def main():
    torch.manual_seed(0)
    source = batches(128, 0.0, seed=0)
    target_train, target_val = batches(96, 4.0, seed=1), batches(32, 4.0, seed=2)
    model = Classifier(pretrain_encoder(source))
    model.head = nn.Linear(32, 3)

    # stage 1: linear probe, encoder frozen
    model.encoder.requires_grad_(False)
    model.encoder.eval()
    hp = HPARAMS["probe"]
    optimizer = torch.optim.SGD(model.head.parameters(), lr=hp["lr"], momentum=0.9)
    for epoch in range(hp["epochs"]):
        run_epoch(model, target_train, optimizer, hp["accum_steps"])
        print(f"probe epoch {epoch}: val acc {evaluate(model, target_val):.3f}")
    probe_stats = model.encoder.layers[1].running_mean.clone()

    # stage 2: full fine-tuning
    model.encoder.requires_grad_(True)
    hp = HPARAMS["finetune"]
    optimizer = torch.optim.SGD(model.parameters(), lr=hp["lr"], momentum=0.9)
    for epoch in range(hp["epochs"]):
        run_epoch(model, target_train, optimizer, hp["accum_steps"])
        print(f"finetune epoch {epoch}: val acc {evaluate(model, target_val):.3f}")

    moved = not torch.allclose(model.encoder.layers[1].running_mean, probe_stats)
    print("BN-GROUND-TRUTH:", "updated" if moved else "stale")


if __name__ == "__main__":
    main()
