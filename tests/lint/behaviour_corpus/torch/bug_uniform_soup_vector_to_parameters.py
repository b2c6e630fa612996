"""Model-soup script: a pretrained base model is fine-tuned several times (one run per
hyper-parameter row), each ingredient is flattened with parameters_to_vector, and the uniform soup
is written into a copy of the base model with vector_to_parameters. Only parameters travel through
the vectors: the soup keeps the BatchNorm running statistics of the pretrained base, which belong
to other weights and to the pretraining data, and it is evaluated and saved that way."""
import copy
import io

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

INGREDIENTS = [
    {"lr": 0.05, "seed": 1, "epochs": 3},
    {"lr": 0.03, "seed": 2, "epochs": 3},
    {"lr": 0.08, "seed": 3, "epochs": 2},
]


class TabularNet(nn.Module):
    def __init__(self, in_features=10, hidden=32, classes=4):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(in_features, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.block = nn.Sequential(nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU())
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x):
        return self.fc(self.block(self.stem(x)))


def make_split(n, shift, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g) + shift
    y = (x[:, 0] + x[:, 1] > 2 * shift).long() + 2 * (x[:, 2] > shift).long()
    return [(x[i:i + 16], y[i:i + 16]) for i in range(0, n, 16)]


def fit(model, loader, lr, epochs):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for _ in range(epochs):
        model.train()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
    return model


@torch.no_grad()
def accuracy(model, loader):
    model.eval()
    hits = sum((model(xb).argmax(1) == yb).sum().item() for xb, yb in loader)
    return hits / sum(len(yb) for _, yb in loader)


def cook_soup(base, ingredients):
    flat = torch.stack([parameters_to_vector(m.parameters()) for m in ingredients])
    soup = copy.deepcopy(base)
    vector_to_parameters(flat.mean(0), soup.parameters())
    return soup


def main():
    torch.manual_seed(0)
    pretrain_loader = make_split(128, shift=0.0, seed=0)
    target_train = make_split(96, shift=3.0, seed=10)
    target_val = make_split(48, shift=3.0, seed=11)

    base = fit(TabularNet(), pretrain_loader, lr=0.05, epochs=2)
    base_stats = base.stem[1].running_mean.clone()

    finetuned = []
    for row in INGREDIENTS:
        torch.manual_seed(row["seed"])
        model = fit(copy.deepcopy(base), target_train, row["lr"], row["epochs"])
        print(f"ingredient lr={row['lr']}: val acc {accuracy(model, target_val):.3f}")
        finetuned.append(model)

    soup = cook_soup(base, finetuned)
    print(f"soup val acc {accuracy(soup, target_val):.3f}")
    torch.save(soup.state_dict(), io.BytesIO())

    bn = soup.stem[1]
    if torch.allclose(bn.running_mean, base_stats):
        verdict = "stale"
    elif int(bn.num_batches_tracked) == len(target_train):
        verdict = "recomputed"
    else:
        verdict = "other"
    print("BN-GROUND-TRUTH:", verdict)


if __name__ == "__main__":
    main()
