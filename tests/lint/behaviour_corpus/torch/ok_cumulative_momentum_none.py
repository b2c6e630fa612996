"""BatchNorm with momentum=None keeps a cumulative (exact) average of the batch statistics."""
import torch
import torch.nn as nn

if __name__ == "__main__":
    torch.manual_seed(0)
    layer = nn.Linear(4, 4)
    bn = nn.BatchNorm1d(4, momentum=None)
    model = nn.Sequential(layer, bn)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    batches = [torch.randn(32, 4) + i for i in range(4)]
    model.train()
    for x in batches:
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
    with torch.no_grad():
        exact = torch.stack([layer(x).mean(0) for x in batches]).mean(0)
    print("BN-GROUND-TRUTH:", "updated" if torch.allclose(bn.running_mean, exact, atol=1e-4) else "jumped")
