"""Bit-identical snapshot and restore of everything one training step can change.

Covers every parameter and buffer (values, ``.grad``, ``requires_grad``, and the tensor objects
themselves: the optimizer holds references to them), module ``training`` flags, optimizer state
(per-parameter tensors such as Adam's ``exp_avg`` and ``step`` are restored in place, hyper-parameters
in ``param_groups`` too) and the random number generators (torch CPU, CUDA when initialised,
Python ``random``, NumPy's global generator).
"""
from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = ["TrainingSnapshot"]


def _clone(t: torch.Tensor) -> torch.Tensor:
    return t.detach().clone(memory_format=torch.preserve_format)


@dataclass
class _TensorSlot:
    owner: nn.Module
    key: str
    kind: str  # "_parameters" or "_buffers"
    obj: torch.Tensor | None
    value: torch.Tensor | None
    grad: torch.Tensor | None
    had_grad: bool
    requires_grad: bool


@dataclass
class TrainingSnapshot:
    """Take with `TrainingSnapshot.take(model, optimizer)`; put back with `.restore()`."""

    model: nn.Module
    optimizer: Any = None
    slots: list[_TensorSlot] = field(default_factory=list)
    modes: list[tuple[nn.Module, bool]] = field(default_factory=list)
    opt_groups: list[tuple[dict, dict]] = field(default_factory=list)
    opt_state: dict[Any, tuple[dict, dict, dict]] = field(default_factory=dict)
    rng: dict[str, Any] = field(default_factory=dict)
    extra: list[tuple[Any, Any]] = field(default_factory=list)

    @classmethod
    def take(cls, model: nn.Module, optimizer: Any = None,
             extra_state: Any = ()) -> "TrainingSnapshot":
        """``extra_state``: objects with ``state_dict()``/``load_state_dict()`` (LR scheduler,
        GradScaler) whose state is saved by deep copy and loaded back on restore."""
        snap = cls(model, optimizer)
        for obj in extra_state:
            if not (callable(getattr(obj, "state_dict", None))
                    and callable(getattr(obj, "load_state_dict", None))):
                raise TypeError(f"extra_state needs objects with state_dict()/load_state_dict(), "
                                f"got {type(obj).__name__}")
            snap.extra.append((obj, copy.deepcopy(obj.state_dict())))
        for module in model.modules():
            snap.modes.append((module, module.training))
            for kind in ("_parameters", "_buffers"):
                for key, t in getattr(module, kind).items():
                    snap.slots.append(_TensorSlot(
                        module, key, kind, t,
                        None if t is None else _clone(t),
                        None if t is None or t.grad is None else _clone(t.grad),
                        t is not None and t.grad is not None,
                        bool(t is not None and t.requires_grad),
                    ))
        if optimizer is not None:
            snap._take_optimizer(optimizer)
        snap._take_rng()
        return snap

    def _take_optimizer(self, optimizer: Any) -> None:
        for group in optimizer.param_groups:
            saved = {k: (v if k == "params" else copy.deepcopy(v)) for k, v in group.items()}
            self.opt_groups.append((group, saved))
        for param, state in optimizer.state.items():
            saved = {k: (_clone(v) if isinstance(v, torch.Tensor) else copy.deepcopy(v))
                     for k, v in state.items()}
            self.opt_state[param] = (state, dict(state), saved)

    def _take_rng(self) -> None:
        self.rng["torch"] = torch.get_rng_state()
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            self.rng["cuda"] = torch.cuda.get_rng_state_all()
        self.rng["random"] = random.getstate()
        try:
            import numpy as np
        except ImportError:  # numpy is optional for torch itself
            return
        self.rng["numpy"] = np.random.get_state()

    def restore(self) -> None:
        """Put every value, object and flag back exactly as it was when taken."""
        with torch.no_grad():
            for s in self.slots:
                store = getattr(s.owner, s.kind)
                store[s.key] = s.obj  # undo re-assignment (module.running_mean = new_tensor)
                if s.obj is None:
                    continue
                if s.obj.shape != s.value.shape or s.obj.dtype != s.value.dtype:
                    s.obj.data = s.value.clone()
                else:
                    s.obj.copy_(s.value)
                if s.kind == "_parameters" or s.obj.is_leaf:
                    s.obj.requires_grad_(s.requires_grad)
                s.obj.grad = None if s.grad is None else s.grad.clone()
        for module, mode in self.modes:
            module.training = mode
        if self.optimizer is not None:
            self._restore_optimizer()
        for obj, state in self.extra:
            obj.load_state_dict(copy.deepcopy(state))
        self._restore_rng()

    def _restore_optimizer(self) -> None:
        for group, saved in self.opt_groups:
            group.clear()
            group.update({k: (v if k == "params" else copy.deepcopy(v)) for k, v in saved.items()})
        state = self.optimizer.state
        for param in list(state.keys()):
            if param not in self.opt_state:
                del state[param]  # created by this step (first step of Adam, momentum buffers)
        with torch.no_grad():
            for param, (obj, entries, saved) in self.opt_state.items():
                obj.clear()
                for k, v in entries.items():
                    if isinstance(v, torch.Tensor):
                        if v.shape == saved[k].shape and v.dtype == saved[k].dtype:
                            v.copy_(saved[k])
                        else:
                            v.data = saved[k].clone()
                        obj[k] = v
                    else:
                        obj[k] = copy.deepcopy(saved[k])
                state[param] = obj

    def _restore_rng(self) -> None:
        torch.set_rng_state(self.rng["torch"])
        if "cuda" in self.rng:
            torch.cuda.set_rng_state_all(self.rng["cuda"])
        random.setstate(self.rng["random"])
        if "numpy" in self.rng:
            import numpy as np

            np.random.set_state(self.rng["numpy"])
