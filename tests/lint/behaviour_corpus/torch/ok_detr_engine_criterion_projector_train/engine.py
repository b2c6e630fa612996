"""Train and eval functions used in main.py"""
import math

import torch


def train_one_epoch(model, criterion, data_loader, optimizer, epoch, max_norm=0.0):
    model.train()
    criterion.train()
    running = 0.0
    for samples, targets in data_loader:
        outputs = model(samples)
        loss_dict = criterion(outputs, targets)
        weight_dict = criterion.weight_dict
        losses = sum(loss_dict[k] * weight_dict[k] for k in loss_dict if k in weight_dict)
        if not math.isfinite(losses.item()):
            raise SystemExit(f"Loss is {losses.item()}, stopping training")
        optimizer.zero_grad()
        losses.backward()
        if max_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        running += losses.item()
    return {"loss": running / len(data_loader), "epoch": epoch}


@torch.no_grad()
def evaluate(model, criterion, data_loader):
    model.eval()
    criterion.eval()
    stats = {"loss_ce": 0.0, "loss_con": 0.0}
    for samples, targets in data_loader:
        loss_dict = criterion(model(samples), targets)
        for k in stats:
            stats[k] += loss_dict[k].item() / len(data_loader)
    return stats
