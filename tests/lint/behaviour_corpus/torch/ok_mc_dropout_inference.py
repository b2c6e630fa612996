"""MC-dropout inference: eval() for BN, then only the Dropout modules back to train mode."""
import torch
from torch import nn


def enable_mc_dropout(model):
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(16, 5) + 1).pow(2).mean().backward()
        opt.step()
    trained = model[1].running_mean.clone()
    enable_mc_dropout(model)
    with torch.no_grad():
        samples = torch.stack([model(torch.randn(8, 5) * 4) for _ in range(5)])
    print("uncertainty", samples.std(0).mean().item())
    ok = not torch.equal(trained, torch.zeros(8)) and torch.equal(trained, model[1].running_mean)
    print("BN-GROUND-TRUTH:", "updated" if ok else "contaminated")
