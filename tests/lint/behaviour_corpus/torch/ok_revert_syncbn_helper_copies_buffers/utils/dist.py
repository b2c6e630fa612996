"""Distributed helpers (mmcv-style)."""
import torch
from torch import nn


def revert_sync_batchnorm(module):
    """Turn every SyncBatchNorm back into BatchNorm2d so the model runs on one device / exports."""
    converted = module
    if isinstance(module, nn.SyncBatchNorm):
        converted = nn.BatchNorm2d(module.num_features, module.eps, module.momentum,
                                   module.affine, module.track_running_stats)
        if module.affine:
            with torch.no_grad():
                converted.weight = module.weight
                converted.bias = module.bias
        if module.track_running_stats:
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
        converted.training = module.training
    for name, child in module.named_children():
        converted.add_module(name, revert_sync_batchnorm(child))
    del module
    return converted
