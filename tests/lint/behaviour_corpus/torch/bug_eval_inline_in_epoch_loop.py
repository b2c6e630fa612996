"""Notebook-style script: the epoch loop validates inline with model.eval() and never calls train() again."""
import torch
import torch.nn as nn

torch.manual_seed(0)
net = nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6, 2))
opt = torch.optim.SGD(net.parameters(), lr=0.05)
loss_fn = nn.CrossEntropyLoss()
train_set = [(torch.randn(8, 2, 8) + 1, torch.randint(0, 2, (8,))) for _ in range(2)]
val_set = [(torch.randn(8, 2, 8), torch.randint(0, 2, (8,)))]

net.train()
updated = []
for epoch in range(3):
    before = net[1].running_mean.clone()
    for xb, yb in train_set:
        opt.zero_grad()
        loss = loss_fn(net(xb), yb)
        loss.backward()
        opt.step()
    updated.append(not torch.equal(before, net[1].running_mean))
    net.eval()
    with torch.no_grad():
        val_loss = sum(loss_fn(net(xb), yb).item() for xb, yb in val_set)
    print(f"epoch {epoch}: val loss {val_loss:.3f}")

print("BN-GROUND-TRUTH:", "stale" if updated[0] and not any(updated[1:]) else "updated")
