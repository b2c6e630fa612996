"""train_one_epoch / evaluate, the way detection and segmentation repos split them."""
import torch
import torch.nn.functional as F


def train_one_epoch(model, loader, optimizer, epoch, log_every=2):
    model.train()
    for i, (images, masks) in enumerate(loader):
        logits = model(images)
        loss = F.cross_entropy(logits, masks)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if i % log_every == 0:
            print(f"epoch {epoch} iter {i} loss {loss.item():.3f}")


@torch.no_grad()
def evaluate(model, loader):
    model.eval()
    correct = total = 0
    for images, masks in loader:
        pred = model(images).argmax(1)
        correct += (pred == masks).sum().item()
        total += masks.numel()
    return correct / total
