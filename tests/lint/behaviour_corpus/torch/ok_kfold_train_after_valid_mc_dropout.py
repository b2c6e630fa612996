"""Kaggle-style k-fold notebook: CFG dict, a fresh model per fold, out-of-fold validation after
every epoch and MC-dropout predictions on the test set at the end of each fold."""
import numpy as np
import torch
from torch import nn

CFG = {"n_folds": 3, "epochs": 3, "lr": 0.05, "bs": 16, "mc_samples": 4, "seed": 42}


class Net(nn.Module):
    def __init__(self, n_in=6, n_hidden=16):
        super().__init__()
        self.fc1 = nn.Linear(n_in, n_hidden)
        self.bn1 = nn.BatchNorm1d(n_hidden)
        self.drop = nn.Dropout(0.2)
        self.fc2 = nn.Linear(n_hidden, 1)

    def forward(self, x):
        return self.fc2(self.drop(torch.relu(self.bn1(self.fc1(x)))))


def enable_dropout(model):
    """Switch only the dropout layers back to training behaviour."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.train()


def train_one_epoch(model, optimizer, x, y):
    for i in range(0, len(x), CFG["bs"]):
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x[i:i + CFG["bs"]]), y[i:i + CFG["bs"]]).backward()
        optimizer.step()


@torch.no_grad()
def valid_fn(model, x, y):
    model.eval()
    return nn.functional.mse_loss(model(x), y).item()


@torch.no_grad()
def mc_predict(model, x, n):
    model.eval()
    enable_dropout(model)
    return torch.stack([model(x) for _ in range(n)]).mean(0)


torch.manual_seed(CFG["seed"])
X = torch.randn(120, 6) + 1.5
Y = X[:, :2].sum(1, keepdim=True)
X_test = torch.randn(20, 6) + 1.5
folds = np.array_split(np.random.RandomState(CFG["seed"]).permutation(len(X)), CFG["n_folds"])

epoch_moves = []
test_preds = []
for fold, val_idx in enumerate(folds):
    trn_idx = np.setdiff1d(np.arange(len(X)), val_idx)
    model = Net()
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=CFG["lr"])
    for epoch in range(CFG["epochs"]):
        before = model.bn1.running_mean.clone()
        train_one_epoch(model, optimizer, X[trn_idx], Y[trn_idx])
        epoch_moves.append(not torch.allclose(before, model.bn1.running_mean))
        score = valid_fn(model, X[val_idx], Y[val_idx])
        model.train()
        print(f"fold {fold} epoch {epoch} val mse {score:.3f}")
    test_preds.append(mc_predict(model, X_test, CFG["mc_samples"]))

if all(epoch_moves):
    verdict = "updated"
elif any(epoch_moves):
    verdict = "stale"
else:
    verdict = "frozen"
print("BN-GROUND-TRUTH:", verdict)
