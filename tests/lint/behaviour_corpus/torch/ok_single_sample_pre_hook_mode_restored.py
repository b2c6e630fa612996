"""Tabular regressor trained with a DataLoader that keeps the last, incomplete batch
(drop_last=False). To dodge "Expected more than 1 value per channel when training" the script
registers a forward pre-hook that switches the model to eval() when a batch holds a single row, and a
forward hook that puts back the mode the pre-hook found: only the one-row batches use the running
statistics, every other optimizer step runs in train mode and BatchNorm keeps updating."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

HPARAMS = dict(epochs=4, batch_size=4, lr=0.01, n_rows=17, features=6)


class Regressor(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, 16), nn.BatchNorm1d(16), nn.ReLU(),
                                 nn.Linear(16, 1))

    def forward(self, x):
        return self.net(x).squeeze(-1)


def single_row_guard(module, args):
    module._mode_before_guard = module.training
    if args[0].shape[0] == 1:
        module.eval()


def restore_mode(module, args, output):
    module.train(module._mode_before_guard)


def build_loader(hp):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(hp["n_rows"], hp["features"], generator=g) * 2 + 1
    y = x.sum(dim=1) + 0.1 * torch.randn(hp["n_rows"], generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=hp["batch_size"], shuffle=False,
                      drop_last=False)


def main(hp):
    torch.manual_seed(0)
    model = Regressor(hp["features"])
    model.register_forward_pre_hook(single_row_guard)
    model.register_forward_hook(restore_mode)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["lr"])
    loader = build_loader(hp)
    multi_row_steps = 0
    model.train()
    for epoch in range(hp["epochs"]):
        total = 0.0
        for xb, yb in loader:
            loss = F.mse_loss(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
            multi_row_steps += len(xb) > 1
        print(f"epoch {epoch} mse {total / hp['n_rows']:.3f}")
    bn = model.net[1]
    tracked = int(bn.num_batches_tracked)
    print("BN-GROUND-TRUTH:", "updated" if tracked == multi_row_steps else "stale")


if __name__ == "__main__":
    main(HPARAMS)
