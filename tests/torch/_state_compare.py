"""Bitwise comparison of a model's and an optimizer's complete state."""
from __future__ import annotations

import random

import numpy as np
import torch


def _bytes(t: torch.Tensor):
    t = t.detach().cpu().contiguous()
    return (str(t.dtype), tuple(t.shape), t.view(-1).view(torch.uint8).numpy().tobytes()
            if t.numel() else b"")


def _freeze(obj):
    if isinstance(obj, torch.Tensor):
        return _bytes(obj)
    if isinstance(obj, np.ndarray):
        return (str(obj.dtype), obj.shape, obj.tobytes())
    if isinstance(obj, dict):
        return {k: _freeze(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_freeze(v) for v in obj]
    return obj


def full_state(model, optimizer=None) -> dict:
    """state_dict bytes, grads, modes, optimizer state_dict bytes, RNG states."""
    return {
        "state_dict": _freeze(model.state_dict()),
        "grads": {n: None if p.grad is None else _bytes(p.grad) for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "modes": {n: m.training for n, m in model.named_modules()},
        "optimizer": None if optimizer is None else _freeze(optimizer.state_dict()),
        "rng": (_bytes(torch.get_rng_state()), random.getstate(), _freeze(np.random.get_state())),
    }


def assert_same_state(a: dict, b: dict) -> None:
    for key in a:
        assert a[key] == b[key], f"{key} differs after the probe"
