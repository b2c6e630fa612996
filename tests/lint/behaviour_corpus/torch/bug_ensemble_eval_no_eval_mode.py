"""Deep ensemble: several members trained properly, but the ensemble evaluation forgets eval()."""
import torch
from torch import nn


def make_member(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))


def fit_member(member, data, epochs=2):
    opt = torch.optim.SGD(member.parameters(), lr=0.05)
    member.train()
    for _ in range(epochs):
        for x, y in data:
            opt.zero_grad()
            nn.functional.cross_entropy(member(x), y).backward()
            opt.step()


@torch.no_grad()
def ensemble_predict(members, x):
    probs = [torch.softmax(m(x), dim=1) for m in members]
    return torch.stack(probs).mean(0)


if __name__ == "__main__":
    data = [(torch.randn(16, 4) + 1, torch.randint(0, 2, (16,))) for _ in range(3)]
    members = [make_member(seed) for seed in range(3)]
    for m in members:
        fit_member(m, data)
    trained = [m[1].running_mean.clone() for m in members]
    test_x = torch.randn(32, 4) * 3 - 6
    print("test predictions", ensemble_predict(members, test_x).argmax(1)[:8].tolist())
    contaminated = any(not torch.equal(t, m[1].running_mean) for t, m in zip(trained, members))
    print("BN-GROUND-TRUTH:", "contaminated" if contaminated else "updated")
