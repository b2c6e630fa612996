"""A BN freeze that holds: `freeze_bn` / `unfreeze_bn`.

Why not ``requires_grad_(False)``? It only stops the optimizer from changing ``weight`` and
``bias``. The running statistics are *buffers*, rewritten by every forward pass in training
mode, with or without gradients (even under ``torch.no_grad()``), so the layer keeps drifting.
Why not ``bn.eval()``? It holds only until the next ``model.train()``, which every epoch loop
calls and which recursively puts every submodule back into training mode.

`freeze_bn` puts each BN-like layer in eval mode *and* registers a forward pre-hook that forces
eval mode again right before every call, so a later ``model.train()`` cannot undo it: the layer
normalises with its stored statistics and never changes them. By default it also sets
``requires_grad=False`` on the affine ``weight``/``bias`` (``freeze_affine=False`` keeps them
training). `unfreeze_bn` restores exactly what was there before: mode, ``requires_grad`` flags,
hooks. The marker survives ``copy.deepcopy`` and pickling of the whole model; ``state_dict`` is
unaffected. Note: between ``model.train()`` and the next forward, ``bn.training`` reads ``True``;
the hook switches it back at the call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from torch import nn

from bnguard.torch.layers import bn_layers

__all__ = ["freeze_bn", "unfreeze_bn", "is_frozen_by_bnguard"]

_MARK = "_bnguard_freeze"


@dataclass
class _FreezeRecord:
    """What `unfreeze_bn` needs to undo the freeze exactly."""

    training: bool
    requires_grad: dict[str, bool] = field(default_factory=dict)


def _force_eval(module: nn.Module, args) -> None:
    """Forward pre-hook: a frozen BN layer always runs in inference mode."""
    if module.training:
        module.training = False


def freeze_bn(model_or_modules: nn.Module | Iterable[nn.Module], *,
              freeze_affine: bool = True) -> list[str]:
    """Freeze every BN-like layer in ``model_or_modules``; returns the names of the frozen layers.

    The freeze survives ``model.train()``. ``freeze_affine=True`` (default) also stops training of
    the layers' ``weight`` and ``bias``; pass ``False`` to keep training them while the
    statistics stay fixed. Calling it again on a frozen layer changes nothing.
    """
    frozen = []
    for name, module in _layers(model_or_modules):
        frozen.append(name)
        if is_frozen_by_bnguard(module):
            continue
        record = _FreezeRecord(training=module.training)
        if freeze_affine:
            for pname, param in module.named_parameters(recurse=False):
                record.requires_grad[pname] = param.requires_grad
                param.requires_grad_(False)
        setattr(module, _MARK, record)
        module.register_forward_pre_hook(_force_eval)
        module.training = False
    return frozen


def unfreeze_bn(model_or_modules: nn.Module | Iterable[nn.Module]) -> list[str]:
    """Undo `freeze_bn` exactly (mode, ``requires_grad``, hooks); returns the names unfrozen."""
    unfrozen = []
    for name, module in _layers(model_or_modules):
        record = getattr(module, _MARK, None)
        if not isinstance(record, _FreezeRecord):
            continue
        for key, hook in list(module._forward_pre_hooks.items()):
            if hook is _force_eval:
                del module._forward_pre_hooks[key]
        params = dict(module.named_parameters(recurse=False))
        for pname, flag in record.requires_grad.items():
            if pname in params:
                params[pname].requires_grad_(flag)
        module.training = record.training
        delattr(module, _MARK)
        unfrozen.append(name)
    return unfrozen


def is_frozen_by_bnguard(module: nn.Module) -> bool:
    """True if `freeze_bn` froze this module (and it was not unfrozen since)."""
    return isinstance(getattr(module, _MARK, None), _FreezeRecord)


def _layers(model_or_modules):
    if not isinstance(model_or_modules, nn.Module):
        model_or_modules = list(model_or_modules)
    return list(bn_layers(model_or_modules))
