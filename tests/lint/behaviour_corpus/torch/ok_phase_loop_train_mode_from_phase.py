"""Transfer-learning-tutorial style phase loop: each phase sets the mode with
model.train(phase == 'train') before torch.set_grad_enabled(phase == 'train'), so the 'val' phase
runs BatchNorm on its running statistics and only the training batches update them."""
import copy
import time

import torch
from torch import nn
from torch.optim import lr_scheduler


def build_model(classes=2):
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, classes))


def train_model(model, dataloaders, criterion, optimizer, scheduler, num_epochs=3):
    since = time.time()
    best_model_wts = copy.deepcopy(model.state_dict())
    best_acc = 0.0
    for epoch in range(num_epochs):
        print(f"Epoch {epoch}/{num_epochs - 1}")
        for phase in ["train", "val"]:
            model.train(phase == "train")
            running_loss, running_corrects, seen = 0.0, 0, 0
            for inputs, labels in dataloaders[phase]:
                optimizer.zero_grad()
                with torch.set_grad_enabled(phase == "train"):
                    outputs = model(inputs)
                    _, preds = torch.max(outputs, 1)
                    loss = criterion(outputs, labels)
                    if phase == "train":
                        loss.backward()
                        optimizer.step()
                running_loss += loss.item() * inputs.size(0)
                running_corrects += torch.sum(preds == labels).item()
                seen += inputs.size(0)
            if phase == "train":
                scheduler.step()
            epoch_acc = running_corrects / seen
            print(f"{phase} Loss: {running_loss / seen:.4f} Acc: {epoch_acc:.4f}")
            if phase == "val" and epoch_acc > best_acc:
                best_acc = epoch_acc
                best_model_wts = copy.deepcopy(model.state_dict())
    print(f"Training complete in {time.time() - since:.1f}s, best val Acc: {best_acc:.4f}")
    model.load_state_dict(best_model_wts)
    return model


def main():
    torch.manual_seed(0)
    dataloaders = {
        "train": [(torch.randn(8, 3, 8, 8), torch.randint(0, 2, (8,))) for _ in range(3)],
        "val": [(torch.randn(8, 3, 8, 8) + 2.0, torch.randint(0, 2, (8,))) for _ in range(2)],
    }
    model = build_model()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.1)
    num_epochs = 3
    bn = model[1]
    counted = []
    bn.register_forward_hook(lambda module, inputs, output: counted.append(module.training))
    train_model(model, dataloaders, criterion, optimizer, scheduler, num_epochs=num_epochs)
    train_mode_forwards = sum(counted)
    optimizer_steps = num_epochs * len(dataloaders["train"])
    if train_mode_forwards == optimizer_steps:
        behaviour = "updated"
    elif train_mode_forwards > optimizer_steps:
        behaviour = "contaminated"
    else:
        behaviour = "stale"
    print("BN-GROUND-TRUTH:", behaviour)


if __name__ == "__main__":
    main()
