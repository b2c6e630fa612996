"""Deployment-latency probe logged next to the validation metrics."""
import time

import torch
from torch.ao.quantization import fuse_modules


@torch.no_grad()
def measure_latency(model, sample, repeats=5):
    """Latency of the deployable (conv+bn+relu folded) network, in milliseconds."""
    model.eval()  # eager-mode fusion folds BN only for eval modules
    deployable = fuse_modules(model, model.fusable, inplace=True)
    start = time.perf_counter()
    for _ in range(repeats):
        deployable(sample)
    return (time.perf_counter() - start) / repeats * 1e3
