"""Run-time probe for PyTorch: run one real training step and report what it did to each BN layer.

``probe(model, step)`` snapshots the whole training state (parameters, buffers, gradients,
optimizer state, RNG states, module modes), runs the user's own ``step()`` with forward hooks on
every BN-like layer, restores the state bit-identically (also when ``step`` raises, which is then
re-raised) and returns a `ProbeReport`. Verdicts: ``updated``, ``frozen-eval-mode``,
``frozen-not-called``, ``frozen-no-update``, ``updated-multiple-times``, ``suspicious-momentum``,
``nonfinite``; with ``eval_step`` also ``contaminated``; for layers the user declared frozen
(``expect_frozen``, `freeze_bn`, ``FrozenBatchNorm2d``-style classes) ``frozen-expected`` or
``updated-despite-freeze``. Healthy: ``updated`` and ``frozen-expected``.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch
from torch import nn

from bnguard.probe_report import LayerObservation, ProbeReport, least_squares_fraction
from bnguard.torch.layers import bn_layers, channel_dim
from bnguard.torch.snapshot import TrainingSnapshot

__all__ = ["probe"]


def probe(model: nn.Module, step: Callable[[], Any], *, optimizer: Any = None,
          eval_step: Callable[[], Any] | None = None,
          expect_frozen: Iterable[nn.Module | str] = (),
          extra_state: Iterable[Any] = ()) -> ProbeReport:
    """Run ``step()`` once, report per BN layer what happened, and leave everything as it was.

    ``step`` is your own zero-argument training iteration (forward, loss, backward,
    ``optimizer.step()``) exactly as your loop runs it. Pass the ``optimizer`` it uses so that its
    state is restored too. ``eval_step`` (optional) is one validation iteration; if it moves any
    running statistic the layer is ``contaminated``. ``expect_frozen`` lists modules or qualified
    names (a name also covers everything below it, e.g. ``"backbone"``) that you freeze on purpose.
    ``extra_state`` lists other objects the step changes that have ``state_dict()`` /
    ``load_state_dict()`` (an LR scheduler, an AMP ``GradScaler``, an EMA helper); they are
    restored too.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"probe() needs a torch.nn.Module, got {type(model).__name__}")
    if not callable(step):
        raise TypeError("probe() needs step: a zero-argument callable running one training step")
    layers = list(bn_layers(model))
    expected = _expected_frozen(model, layers, expect_frozen)
    observations = {name: LayerObservation(name) for name, _ in layers}
    for name, module in layers:
        obs = observations[name]
        momentum = getattr(module, "momentum", None)
        obs.cumulative = isinstance(module, nn.modules.batchnorm._NormBase) and momentum is None
        obs.configured_fraction = float(momentum) if isinstance(momentum, (int, float)) else None
        if name in expected:
            obs.expected_frozen, obs.expected_reason = True, expected[name]

    snapshot = TrainingSnapshot.take(model, optimizer, extra_state=extra_state)
    before = {name: _stats(m) for name, m in layers}
    try:  # whatever happens (the step raises, an analysis fails), the state goes back
        output = _run_observed(step, layers, observations, phase="train")
        for name, module in layers:
            after = _stats(module)
            obs = observations[name]
            obs.changed = not _same(before[name], after)
            obs.nonfinite = not all(bool(torch.isfinite(t).all()) for t in after[:2])
        if eval_step is not None:
            snapshot.restore()  # evaluate the model as it was before the step
            _run_observed(eval_step, layers, observations, phase="eval")
            for name, module in layers:
                observations[name].eval_changed = not _same(before[name], _stats(module))
    finally:
        snapshot.restore()

    skipped = [n for n, m in model.named_modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm) and not m.track_running_stats]
    meta = {"restored": True, "eval_step": eval_step is not None}
    if skipped:
        meta["skipped_no_running_stats"] = skipped
    return ProbeReport.build([observations[n] for n, _ in layers], framework="torch", meta=meta,
                             step_output=output)


def _run_observed(fn: Callable[[], Any], layers, observations, phase: str) -> Any:
    """Run ``fn`` with hooks on every BN layer (removed afterwards, also on an exception)."""
    handles = []
    for name, module in layers:
        recorder = _CallRecorder(observations[name], phase)
        handles.append(module.register_forward_pre_hook(recorder.before))
        handles.append(module.register_forward_hook(recorder.after))
    try:
        return fn()
    finally:
        for h in handles:
            h.remove()


class _CallRecorder:
    """Forward pre/post hooks: call count, mode at call, and the observed update fraction."""

    def __init__(self, obs: LayerObservation, phase: str):
        self.obs, self.phase = obs, phase
        self.pending: list[tuple[tuple, tuple | None] | None] = []

    def before(self, module: nn.Module, args: tuple) -> None:
        training = bool(module.training)
        if self.phase == "eval":
            self.obs.eval_train_calls += int(training)
            self.pending.append(None)
            return
        self.obs.calls += 1
        self.obs.train_calls += int(training)
        if not training:
            self.pending.append(None)
            return
        x = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self.pending.append((_stats(module), _batch_stats(module, x)))

    def after(self, module: nn.Module, args: tuple, output: Any) -> None:
        if not self.pending:
            return
        entry = self.pending.pop()
        if entry is None:
            return
        old, batch = entry
        new = _stats(module)
        if _same(old, new):
            return
        self.obs.updating_calls += 1
        if batch is not None:
            self.obs.fractions.append(_fraction(old, new, batch))


def _stats(module: nn.Module) -> tuple[torch.Tensor, ...]:
    """Detached copies of (running_mean, running_var[, num_batches_tracked])."""
    out = [module.running_mean.detach().clone(), module.running_var.detach().clone()]
    nbt = getattr(module, "num_batches_tracked", None)
    if isinstance(nbt, torch.Tensor):
        out.append(nbt.detach().clone())
    return tuple(out)


def _same(a: tuple, b: tuple) -> bool:
    """Running mean and variance unchanged (the counter alone moving is not an update)."""
    return all(_bitwise_equal(x, y) for x, y in zip(a[:2], b[:2]))


def _bitwise_equal(x: torch.Tensor, y: torch.Tensor) -> bool:
    """Equal including NaN positions (torch.equal treats NaN != NaN)."""
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.is_floating_point():
        both_nan = torch.isnan(x) & torch.isnan(y)
        return bool(((x == y) | both_nan).all())
    return bool(torch.equal(x, y))


def _batch_stats(module: nn.Module, x: torch.Tensor | None) -> tuple | None:
    """The batch mean and unbiased variance per channel that this call normalises with.

    For channels-first input this is BN's own kernel run with momentum 1 into scratch buffers
    (the scratch running statistics then *are* the batch statistics; as fast as the layer itself);
    otherwise a reduction over every non-channel dimension. Widened to float64 afterwards.
    """
    if x is None or x.dim() < 1 or not x.is_floating_point():
        return None
    dim = channel_dim(module, x)
    if dim is None or x.numel() // max(x.shape[dim], 1) < 2:
        return None
    with torch.no_grad():
        x = x.detach()
        if dim == 1 and x.dim() >= 2:
            mean = torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
            var = torch.ones(x.shape[1], dtype=x.dtype, device=x.device)
            torch.nn.functional.batch_norm(x, mean, var, training=True, momentum=1.0)
        else:
            dims = [d for d in range(x.dim()) if d != dim]
            var, mean = torch.var_mean(x.float(), dim=dims, unbiased=True)
    return mean.double(), var.double()


def _fraction(old: tuple, new: tuple, batch: tuple) -> float:
    """Observed update fraction from the mean and variance of one update."""
    import numpy as np

    def host(t: torch.Tensor):
        return t.detach().cpu().double().numpy()

    delta = np.concatenate([host(n) - host(o) for o, n in zip(old[:2], new[:2])])
    target = np.concatenate([host(b) - host(o) for o, b in zip(old[:2], batch)])
    f = least_squares_fraction(delta, target)
    return float("nan") if f is None else f


def _expected_frozen(model: nn.Module, layers, expect_frozen) -> dict[str, str]:
    """``{layer name: reason}`` for layers frozen on purpose."""
    from bnguard.torch.freeze import is_frozen_by_bnguard

    wanted_ids, wanted_names = set(), []
    for item in expect_frozen if not isinstance(expect_frozen, (str, nn.Module)) else [expect_frozen]:
        if isinstance(item, nn.Module):
            wanted_ids.update(id(m) for m in item.modules())
        elif isinstance(item, str):
            wanted_names.append(item)
        else:
            raise TypeError(f"expect_frozen takes modules or names, got {type(item).__name__}")
    known = {n for n, _ in model.named_modules()}
    unknown = [n for n in wanted_names if n not in known]
    if unknown:
        raise ValueError(f"expect_frozen names not in the model: {', '.join(unknown)}")
    reasons: dict[str, str] = {}
    for name, module in layers:
        if id(module) in wanted_ids or any(name == w or name.startswith(w + ".") for w in wanted_names):
            reasons[name] = "expect_frozen"
        elif is_frozen_by_bnguard(module):
            reasons[name] = "bnguard.torch.freeze_bn"
        elif type(module).__name__.startswith("Frozen"):
            reasons[name] = f"{type(module).__name__} keeps fixed statistics by design"
    return reasons
