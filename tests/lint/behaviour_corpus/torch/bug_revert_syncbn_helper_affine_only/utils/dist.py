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
        converted.training = module.training
    for name, child in module.named_children():
        converted.add_module(name, revert_sync_batchnorm(child))
    del module
    return converted
