"""Single-device evaluation of a checkpoint trained with SyncBN."""
import torch

from utils.dist import revert_sync_batchnorm


@torch.no_grad()
def evaluate_single_device(model, loader):
    model = revert_sync_batchnorm(model)
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return model, correct / sum(len(y) for _, y in loader)
