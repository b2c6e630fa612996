"""Configurable tabular MLP built from a CONFIG dict: the hidden Linear layers and the matching
BatchNorm1d layers are appended to two nn.ModuleList containers, so Module.train()/eval(),
.parameters() and state_dict() reach the BatchNorm layers: fit() trains their statistics, and test()
(model.eval(), no_grad) normalizes the shifted test data with them without changing them."""
import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {
    "in_features": 9,
    "hidden": [24, 16],
    "classes": 2,
    "epochs": 3,
    "lr": 0.05,
    "batch_size": 32,
    "seed": 0,
}


class TabularMLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dims = [cfg["in_features"]] + cfg["hidden"]
        self.hidden = nn.ModuleList()
        self.norms = nn.ModuleList()
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            self.hidden.append(nn.Linear(d_in, d_out))
            self.norms.append(nn.BatchNorm1d(d_out))
        self.out = nn.Linear(dims[-1], cfg["classes"])

    def forward(self, x):
        for linear, norm in zip(self.hidden, self.norms):
            x = F.relu(norm(linear(x)))
        return self.out(x)


def synthetic(n_batches, cfg, gen, shift=0.0):
    data = []
    for _ in range(n_batches):
        x = torch.randn(cfg["batch_size"], cfg["in_features"], generator=gen) + 1.0 + shift
        data.append((x, (x[:, 0] + x[:, 1] > 2.0 + 2 * shift).long()))
    return data


def fit(model, train_data, cfg):
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    for epoch in range(cfg["epochs"]):
        model.train()
        for x, y in train_data:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch} loss {loss.item():.3f}")


def test(model, test_data):
    model.eval()
    correct = 0
    with torch.no_grad():
        for x, y in test_data:
            correct += (model(x).argmax(1) == y).sum().item()
    return correct / sum(len(y) for _, y in test_data)


def first_norm(model):
    return next(iter(model.norms))


def main():
    cfg = CONFIG
    torch.manual_seed(cfg["seed"])
    gen = torch.Generator().manual_seed(cfg["seed"])
    train_data = synthetic(5, cfg, gen)
    test_data = synthetic(3, cfg, gen, shift=3.0)
    model = TabularMLP(cfg)
    fit(model, train_data, cfg)

    norm = first_norm(model)
    trained_mean = norm.running_mean.clone()
    trained_var = norm.running_var.clone()
    print("test accuracy", test(model, test_data))
    unchanged = torch.equal(norm.running_mean, trained_mean) and torch.equal(norm.running_var, trained_var)
    if torch.allclose(trained_mean, torch.zeros_like(trained_mean)):
        behaviour = "frozen"
    elif unchanged:
        behaviour = "updated"
    else:
        behaviour = "contaminated"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
