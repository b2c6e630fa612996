"""predict_batches() is a generator: it switches the model to eval(), yields predictions batch by
batch under no_grad and calls model.train() after its loop. The per-epoch preview only takes the
first batch with next(...): the generator is closed at its first yield, the trailing train() never
runs, and every later epoch trains with BatchNorm in eval mode (train() ran once, before the loop)."""
import torch
from torch import nn

SETTINGS = dict(epochs=4, lr=0.05, batch_size=16, preview_every=1)


class Encoder(nn.Module):
    def __init__(self, d_in=7, width=18, n_out=3):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, width), nn.BatchNorm1d(width), nn.GELU(),
                                 nn.Linear(width, n_out))

    def forward(self, x):
        return self.net(x)


def make_split(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 7, generator=g) * 2 + 0.5
    y = torch.bucketize(x[:, 0].contiguous(), torch.tensor([-0.5, 1.5]))
    return list(zip(x.split(SETTINGS["batch_size"]), y.split(SETTINGS["batch_size"])))


def predict_batches(model, loader):
    model.eval()
    with torch.no_grad():
        for x, _ in loader:
            yield model(x).argmax(1)
    model.train()


def show_preview(model, loader, epoch):
    first = next(predict_batches(model, loader))
    print(f"epoch {epoch} preview predictions {first[:8].tolist()}")


def fit(model, train_loader, val_loader):
    optimizer = torch.optim.Adam(model.parameters(), lr=SETTINGS["lr"])
    bn = model.net[1]
    moved = []
    model.train()
    for epoch in range(SETTINGS["epochs"]):
        before = bn.running_mean.clone()
        for x, y in train_loader:
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        moved.append(not torch.allclose(before, bn.running_mean))
        if epoch % SETTINGS["preview_every"] == 0:
            show_preview(model, val_loader, epoch)
    return moved


def main():
    torch.manual_seed(0)
    model = Encoder()
    moved = fit(model, make_split(96, 1), make_split(32, 2))
    preds = torch.cat(list(predict_batches(model, make_split(32, 3))))
    print("final prediction histogram", torch.bincount(preds, minlength=3).tolist())
    print("BN-GROUND-TRUTH:", "stale" if moved[0] and not all(moved) else ("updated" if all(moved) else "frozen"))


if __name__ == "__main__":
    main()
