"""SimSiam-style self-supervised pre-training with a kNN monitor after every epoch (feature bank
from the memory set, top-k vote on the test set). The monitor wraps everything in torch.no_grad()
but never calls net.eval(): the backbone's BatchNorm layers normalise with batch statistics and
their running statistics absorb the memory and the (shifted) test images every epoch."""
import torch
import torch.nn.functional as F
from torch import nn

CONFIG = {"epochs": 3, "lr": 0.05, "knn_k": 5, "knn_t": 0.1, "num_classes": 3}


class Encoder(nn.Module):
    def __init__(self, in_dim=12, dim=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(),
                                 nn.Linear(32, dim, bias=False), nn.BatchNorm1d(dim))

    def forward(self, x):
        return self.net(x)


class SimSiam(nn.Module):
    def __init__(self, dim=16):
        super().__init__()
        self.encoder = Encoder(dim=dim)
        self.predictor = nn.Sequential(nn.Linear(dim, 8), nn.ReLU(), nn.Linear(8, dim))

    def forward(self, x1, x2):
        z1, z2 = self.encoder(x1), self.encoder(x2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        return -(F.cosine_similarity(p1, z2.detach()).mean() + F.cosine_similarity(p2, z1.detach()).mean()) / 2


def augment(x):
    return x + 0.1 * torch.randn_like(x)


def knn_monitor(net, memory_loader, test_loader, k, t, num_classes):
    feature_bank, feature_labels = [], []
    with torch.no_grad():
        for data, target in memory_loader:
            feature_bank.append(F.normalize(net(data), dim=1))
            feature_labels.append(target)
        feature_bank = torch.cat(feature_bank).t()
        feature_labels = torch.cat(feature_labels)
        correct, total = 0, 0
        for data, target in test_loader:
            feature = F.normalize(net(data), dim=1)
            sim = feature @ feature_bank
            sim_weight, sim_idx = sim.topk(k=k, dim=-1)
            sim_labels = feature_labels[sim_idx]
            one_hot = F.one_hot(sim_labels, num_classes).float() * (sim_weight / t).exp().unsqueeze(-1)
            pred = one_hot.sum(dim=1).argmax(dim=1)
            correct += (pred == target).sum().item()
            total += len(target)
    return correct / total


def train_one_epoch(model, loader, optimizer):
    model.train()
    for images, _ in loader:
        loss = model(augment(images), augment(images))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def main():
    torch.manual_seed(0)
    make = lambda n, shift: [(torch.randn(16, 12) + shift, torch.randint(0, 3, (16,))) for _ in range(n)]
    train_loader, memory_loader, test_loader = make(4, 0.5), make(2, 0.5), make(2, 4.0)
    model = SimSiam()
    optimizer = torch.optim.SGD(model.parameters(), lr=CONFIG["lr"], momentum=0.9)
    for epoch in range(CONFIG["epochs"]):
        train_one_epoch(model, train_loader, optimizer)
        acc = knn_monitor(model.encoder, memory_loader, test_loader, CONFIG["knn_k"], CONFIG["knn_t"],
                          CONFIG["num_classes"])
        print(f"epoch {epoch}: knn acc {acc:.2f}")
    bn = model.encoder.net[1]
    train_forwards = CONFIG["epochs"] * len(train_loader) * 2  # two views per step
    tracked = int(bn.num_batches_tracked)
    print("num_batches_tracked", tracked, "training forwards", train_forwards)
    if tracked == train_forwards:
        behaviour = "updated"
    elif tracked > train_forwards:
        behaviour = "contaminated"
    else:
        behaviour = "other"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
