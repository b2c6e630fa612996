"""Phase loop that sets the mode with model.train(mode=is_train) / model.train(phase == 'train')."""
import torch
from torch import nn


def make_loaders():
    g = torch.Generator().manual_seed(0)
    train = [(torch.randn(16, 5, generator=g) + 3, torch.randn(16, 1, generator=g)) for _ in range(3)]
    val = [(torch.randn(16, 5, generator=g) - 5, torch.randn(16, 1, generator=g))]
    return {"train": train, "val": val}


def run(model, loaders, optimizer, epochs=3):
    criterion = nn.MSELoss()
    for epoch in range(epochs):
        for phase in ("train", "val"):
            is_train = phase == "train"
            model.train(mode=is_train)
            total = 0.0
            for x, y in loaders[phase]:
                with torch.set_grad_enabled(is_train):
                    loss = criterion(model(x), y)
                    if is_train:
                        optimizer.zero_grad()
                        loss.backward()
                        optimizer.step()
                total += loss.item()
            print(f"epoch {epoch} {phase} loss {total / len(loaders[phase]):.3f}")


if __name__ == "__main__":
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    run(model, make_loaders(), torch.optim.Adam(model.parameters(), 1e-2))
    bn = model[1]
    # nine training batches tracked, none of the validation ones (mean near +3*w, not -5*w)
    ok = int(bn.num_batches_tracked) == 9 and not torch.allclose(bn.running_mean, torch.zeros(8))
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
