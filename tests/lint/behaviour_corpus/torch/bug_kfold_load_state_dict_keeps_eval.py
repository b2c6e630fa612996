"""K-fold cross-validation: each fold restores the initial weights with load_state_dict, which does
not reset the module mode, so every fold after the first trains with BN in eval mode."""
import copy

import torch
from torch import nn


def make_model():
    return nn.Sequential(nn.Linear(5, 12), nn.BatchNorm1d(12), nn.ReLU(), nn.Linear(12, 2))


def split_folds(inputs, labels, k):
    size = len(inputs) // k
    folds = []
    for i in range(k):
        val_idx = torch.arange(i * size, (i + 1) * size)
        train_mask = torch.ones(len(inputs), dtype=torch.bool)
        train_mask[val_idx] = False
        folds.append(((inputs[train_mask], labels[train_mask]), (inputs[val_idx], labels[val_idx])))
    return folds


def fit_fold(model, train_data, epochs=2, batch_size=16):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    inputs, labels = train_data
    for _ in range(epochs):
        for start in range(0, len(inputs), batch_size):
            optimizer.zero_grad()
            out = model(inputs[start:start + batch_size])
            nn.functional.cross_entropy(out, labels[start:start + batch_size]).backward()
            optimizer.step()


def score_fold(model, val_data):
    model.eval()
    inputs, labels = val_data
    with torch.no_grad():
        return (model(inputs).argmax(1) == labels).float().mean().item()


def cross_validate(model, folds):
    initial_state = copy.deepcopy(model.state_dict())
    bn = model[1]
    model.train()
    per_fold_updated = []
    scores = []
    for train_data, val_data in folds:
        model.load_state_dict(initial_state)
        fit_fold(model, train_data)
        per_fold_updated.append(not torch.allclose(bn.running_mean, torch.zeros_like(bn.running_mean)))
        scores.append(score_fold(model, val_data))
    return per_fold_updated, scores


if __name__ == "__main__":
    torch.manual_seed(0)
    inputs = torch.randn(96, 5) + 1.0
    labels = (inputs.sum(1) > 5).long()
    updated, scores = cross_validate(make_model(), split_folds(inputs, labels, k=3))
    print("BN-GROUND-TRUTH:", "stale" if updated[0] and not any(updated[1:]) else "updated")
