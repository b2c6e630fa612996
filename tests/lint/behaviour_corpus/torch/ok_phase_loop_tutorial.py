"""The transfer-learning-tutorial loop: for phase in ('train', 'val') with train()/eval() per phase."""
import copy

import torch
import torch.nn as nn


def train_model(model, dataloaders, criterion, optimizer, num_epochs=2):
    best_wts, best_acc = copy.deepcopy(model.state_dict()), 0.0
    bn = model[1]
    changed = {"train": [], "val": []}
    for epoch in range(num_epochs):
        for phase in ["train", "val"]:
            if phase == "train":
                model.train()
            else:
                model.eval()
            before = bn.running_mean.clone()
            running_corrects = 0
            for inputs, labels in dataloaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                running_corrects += (outputs.argmax(1) == labels).sum().item()
            changed[phase].append(not torch.equal(before, bn.running_mean))
            if phase == "val" and running_corrects > best_acc:
                best_acc, best_wts = running_corrects, copy.deepcopy(model.state_dict())
    model.load_state_dict(best_wts)
    return changed


if __name__ == "__main__":
    torch.manual_seed(0)
    model_ft = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    loaders = {"train": [(torch.randn(8, 5) + 1, torch.randint(0, 2, (8,))) for _ in range(2)],
               "val": [(torch.randn(8, 5) * 4, torch.randint(0, 2, (8,)))]}
    changed = train_model(model_ft, loaders, nn.CrossEntropyLoss(), torch.optim.SGD(model_ft.parameters(), lr=0.01))
    ok = all(changed["train"]) and not any(changed["val"])
    print("BN-GROUND-TRUTH:", "updated" if ok else "broken")
