"""Metric learning with a triplet loss and online hard-negative mining: before each optimizer step
the trainer asks HardNegativeMiner.mine() for the closest wrong-class candidates. The miner embeds
its candidate pool with the same routine the retrieval evaluation uses (`embed_all`: model.eval(),
no_grad) and never puts the model back: fit() called model.train() once before the loop, so from the
first mining onwards every optimizer step runs the embedding network in eval mode and the BatchNorm
running statistics stop moving after the first batch."""
import torch
import torch.nn.functional as F
from torch import nn


class Embedder(nn.Module):
    def __init__(self, d_in=10, d_emb=8):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, 24, bias=False), nn.BatchNorm1d(24), nn.ReLU(),
                                 nn.Linear(24, d_emb))

    def forward(self, x):
        return F.normalize(self.net(x), dim=1)


@torch.no_grad()
def embed_all(model, x, chunk=32):
    model.eval()
    return torch.cat([model(x[i:i + chunk]) for i in range(0, len(x), chunk)])


class HardNegativeMiner:
    def __init__(self, pool_x, pool_y):
        self.pool_x, self.pool_y = pool_x, pool_y

    def mine(self, model, anchors, labels):
        with torch.no_grad():
            a = model(anchors)
        pool_emb = embed_all(model, self.pool_x)
        dist = torch.cdist(a, pool_emb)
        dist[labels[:, None] == self.pool_y[None, :]] = float("inf")
        return self.pool_x[dist.argmin(1)]


class TripletTrainer:
    def __init__(self, model, miner, lr=1e-2, margin=0.3):
        self.model, self.miner, self.margin = model, miner, margin
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step(self, anchors, positives, labels):
        negatives = self.miner.mine(self.model, anchors, labels)
        a, p, n = self.model(anchors), self.model(positives), self.model(negatives)
        loss = F.triplet_margin_loss(a, p, n, margin=self.margin)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def fit(self, batches):
        self.model.train()
        history = []
        for anchors, positives, labels in batches:
            bn = self.model.net[1]
            before = bn.running_mean.clone()
            self.step(anchors, positives, labels)
            history.append(not torch.allclose(before, bn.running_mean))
        return history


def sample(gen, n, centers):
    labels = torch.randint(0, len(centers), (n,), generator=gen)
    return centers[labels] + torch.randn(n, centers.shape[1], generator=gen), labels


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 10, generator=gen) * 3 + 2
    pool_x, pool_y = sample(gen, 64, centers)
    batches = []
    for _ in range(6):
        anchors, labels = sample(gen, 16, centers)
        positives = centers[labels] + torch.randn(16, 10, generator=gen)
        batches.append((anchors, positives, labels))
    trainer = TripletTrainer(Embedder(), HardNegativeMiner(pool_x, pool_y))
    moved = trainer.fit(batches)
    print("running_mean moved per step:", moved)
    if all(moved):
        behaviour = "updated"
    elif not any(moved[1:]):
        behaviour = "stale"
    else:
        behaviour = "partly-stale"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
