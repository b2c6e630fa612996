"""Metric helpers; the caller decides the module's mode."""
import torch


@torch.no_grad()
def mean_abs_error(model, batches):
    errors = [(model(x) - y).abs().mean().item() for x, y in batches]
    return sum(errors) / len(errors)
