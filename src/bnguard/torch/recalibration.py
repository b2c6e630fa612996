"""Exact re-estimation of BatchNorm running statistics over data (PyTorch).

``recalibrate(model, data)`` replaces every BN layer's ``running_mean`` / ``running_var`` with the
statistics of all the inputs that layer sees when the data is fed through the model, with only
the BN layers in train mode.

How it works (and why):

* BN layers run in train mode with ``momentum=1.0``, so each call writes its batch mean and
  unbiased batch variance, computed by BN itself (centred, so accurate even for inputs with
  mean/std = 1000), into the running buffers, which point at rows of a record matrix during the
  pass; a forward hook moves the layer to the next row. Chunks of rows are merged in float64
  (Chan et al.): the exact population mean and variance at no extra tensor op per BN call.
  Every other module (Dropout, stochastic depth, ...) stays in eval mode.
* The first batch runs the whole model and records the order of BN calls. From the second batch
  on, a hook stops the forward right after the last BN call: the classifier head, losses and
  anything else after the last BN are not run. If a batch calls BN layers in a different order
  (dynamic models), early stopping is switched off and whole forwards are run.
* Inside an initialised ``torch.distributed`` process group every rank feeds its own shard and the
  (count, sum, M2) statistics are all-reduced, so all ranks end with identical statistics equal to
  a single-process run over all the data. ``SyncBatchNorm`` runs as a plain BN during
  recalibration (the all-reduce is the synchronisation); ``DistributedDataParallel`` and
  ``DataParallel`` wrappers are unwrapped.
* Atomic: on any exception (including ``KeyboardInterrupt`` and data-loader errors) buffers,
  momenta and train/eval modes of every module are exactly as before.

Verdicts (per BN layer):

``recalibrated``      new statistics were written (ok)
``no-running-stats``  ``track_running_stats=False``: the layer always uses batch statistics (ok)
``not-reached``       no batch reached this layer; its old statistics were kept (problem)
``non-finite``        the layer's inputs contained NaN/inf; its old statistics were kept (problem)
"""
from __future__ import annotations

import time
import types
from typing import Any, Callable, Iterable

import torch
from torch import nn

from bnguard._recalibration import (
    ESTIMATORS,
    RECALIBRATE_OK_VERDICTS,
    RecalibrationReport,
    change_result,
    non_finite,
    not_reached,
)
from bnguard.result import LayerResult
from bnguard.torch._stats import (
    BatchAverage,
    BatchRows,
    ChannelMoments,
    all_reduce_batch_average,
    all_reduce_moments,
)

__all__ = ["recalibrate", "swa_finish", "RecalibrationReport", "default_forward", "ESTIMATORS",
           "RECALIBRATE_OK_VERDICTS"]

# Keys tried, in order, when a batch is a dict (else the dict is passed as keyword arguments).
DICT_INPUT_KEYS = ("input", "inputs", "x", "image", "images", "pixel_values", "input_ids")


class _StopForward(Exception):
    """Raised from the hook of the last BN call to skip the rest of the network."""


def default_forward(model: nn.Module, batch: Any) -> Any:
    """Feed one batch: a tensor as is; a tuple/list by its first element (``(inputs, labels)``);
    a dict by its first key among ``DICT_INPUT_KEYS``, otherwise as keyword arguments."""
    if isinstance(batch, (tuple, list)):
        if not batch:
            raise ValueError("recalibrate: got an empty tuple/list as a batch")
        return model(batch[0])
    if isinstance(batch, dict):
        for key in DICT_INPUT_KEYS:
            if key in batch:
                return model(batch[key])
        return model(**batch)
    return model(batch)


def _to_device(batch: Any, device: torch.device | None) -> Any:
    if device is None:
        return batch
    if isinstance(batch, torch.Tensor):
        return batch if batch.device == device else batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        moved = [_to_device(b, device) for b in batch]
        return type(batch)(moved) if not hasattr(batch, "_fields") else type(batch)(*moved)
    if isinstance(batch, dict):
        return type(batch)((k, _to_device(v, device)) for k, v in batch.items())
    return batch


def _unwrap(model: nn.Module) -> nn.Module:
    """The module that holds the layers: DDP / DataParallel forward to ``.module``; a
    ``torch.compile`` wrapper to ``._orig_mod`` (hooks that stop the forward need eager mode)."""
    from torch.nn.parallel import DataParallel, DistributedDataParallel

    while True:
        if isinstance(model, (DataParallel, DistributedDataParallel)):
            model = model.module
        elif isinstance(getattr(model, "_orig_mod", None), nn.Module):
            model = model._orig_mod
        else:
            return model


def _bn_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name or type(m).__name__, m) for name, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm)]


class _Snapshot:
    """Everything recalibration touches, to put back exactly on failure."""

    def __init__(self, model: nn.Module, bns: list[nn.Module]):
        self.modes = [(m, m.training) for m in model.modules()]
        self.momenta = [(bn, bn.momentum) for bn in bns]
        self.buffers = []
        for bn in bns:
            for attr in ("running_mean", "running_var", "num_batches_tracked"):
                buf = getattr(bn, attr, None)
                if isinstance(buf, torch.Tensor):
                    self.buffers.append((buf, buf.detach().clone()))

    def restore_modes_and_momenta(self) -> None:
        for m, training in self.modes:
            m.training = training
        for bn, momentum in self.momenta:
            bn.momentum = momentum

    def restore_buffers(self) -> None:
        with torch.no_grad():
            for buf, saved in self.buffers:
                buf.copy_(saved)


class _Recorder:
    """BN's own batch stats, recorded call by call (`BatchRows`); a forward hook moves each layer
    to its next row and stops the forward after the last BN call."""

    def __init__(self, layers: list[tuple[str, nn.Module]], estimator: str):
        self.index = {id(m): i for i, (_, m) in enumerate(layers)}
        self.layers = layers
        acc_type = ChannelMoments if estimator == "population" else BatchAverage
        self.accs = [acc_type(m.num_features, m.running_mean.device) for _, m in layers]
        self.rows = [BatchRows(m.running_mean, m.running_var, acc)
                     for (_, m), acc in zip(layers, self.accs)]
        self.originals = [(m, m._buffers["running_mean"], m._buffers["running_var"])
                          for _, m in layers]
        # per layer, decided on its first call: inputs far from zero (|mean| > 4 std), whose float32
        # batch mean is refined (see _refined_mean)
        self.offset: list[bool | None] = [None] * len(layers)
        self.order: list[int] | None = None  # BN call order seen on the first batch
        self.calls: list[int] = []
        self.early_stop = False
        self.stopped_batches = 0

    def install(self) -> None:
        """Point every BN layer's running buffers at its first record row."""
        for (m, _, _), rows in zip(self.originals, self.rows):
            m._buffers["running_mean"], m._buffers["running_var"] = rows.current()

    def uninstall(self) -> None:
        """Put the layers' own buffer tensors back (idempotent)."""
        for m, mean, var in self.originals:
            m._buffers["running_mean"], m._buffers["running_var"] = mean, var

    def flush(self) -> None:
        for rows in self.rows:
            rows.flush()

    def hook(self, module, inputs, output):
        i = self.index[id(module)]
        x = inputs[0]
        n = x.numel() // x.shape[1] if x.dim() > 1 else x.numel()
        buffers = module._buffers  # direct access: Module.__getattr__ is slow in a hot hook
        refined = None
        if self.offset[i] is None:
            mean, var = buffers["running_mean"], buffers["running_var"]
            self.offset[i] = bool((mean.abs() > _OFFSET_RATIO * var.sqrt()).any())
        if self.offset[i]:
            refined = _refined_mean(x, buffers["running_mean"])
        # this call's stats are in the current row: move BN on to the next one
        buffers["running_mean"], buffers["running_var"] = self.rows[i].advance(n, refined)
        pos = len(self.calls)
        self.calls.append(i)
        if self.early_stop:
            if pos >= len(self.order) or self.order[pos] != i:
                self.early_stop = False  # the call order changed: run whole forwards from now on
            elif pos == len(self.order) - 1:
                self.stopped_batches += 1
                raise _StopForward

    def end_batch(self) -> None:
        if self.order is None:
            self.order = list(self.calls)
            self.early_stop = bool(self.order)
        self.calls = []


# |mean| / std above which a layer's float32 batch means are refined in float64.
_OFFSET_RATIO = 4.0


def _refined_mean(x: torch.Tensor, mean32: torch.Tensor) -> torch.Tensor:
    """The batch mean to float64 accuracy: float32 ``mean32`` plus the mean of the residuals.

    A float32 mean of inputs around 1000 is rounded by up to 3e-5 (half an ulp); in the merge
    that rounding multiplies the between-batch spread of the means and gives ~1e-6 variance
    errors. The residuals ``x - mean32`` are small and exact in float32 (the operands are close),
    so their mean restores the lost digits. It costs one pass over the input, so it is only done
    for layers whose inputs are far from zero (typically the first BN on raw data).
    """
    dims = [d for d in range(x.dim()) if d != 1] if x.dim() > 1 else [0]
    shape = [1, -1] + [1] * (x.dim() - 2) if x.dim() > 1 else [-1]
    residual = (x - mean32.view(shape)).mean(dim=dims)
    return mean32.double() + residual.double()


def recalibrate(
    model: nn.Module,
    data: Iterable,
    *,
    num_batches: int | None = None,
    forward: Callable[[nn.Module, Any], Any] | None = None,
    estimator: str = "population",
    device: torch.device | str | None = None,
    progress: bool = True,
    unbiased: bool = False,
    stop_early: bool = True,
    process_group=None,
) -> RecalibrationReport:
    """Re-estimate every BN layer's running statistics from ``data``; see the module docstring.

    ``data``: any iterable of batches (a DataLoader). ``num_batches``: use at most this many
    (default: all). ``forward(model, batch)``: how to call the model (default `default_forward`);
    it receives the unwrapped module (``ddp.module``). ``estimator``: ``"population"`` (exact mean
    and variance of all inputs, merged in float64) or ``"batch-average"`` (equal-weight average of
    batch means and unbiased batch variances, what ``torch.optim.swa_utils.update_bn`` computes).
    ``unbiased``: divide the population M2 by N-1 instead of N (default N: the variance of all the
    values seen, as fvcore's PreciseBN). ``device``: move tensors of each batch there (default: the
    device of the BN buffers). ``stop_early=False`` always runs the whole forward. Returns a
    `RecalibrationReport`; ``num_batches_tracked`` is set to the number of batches each layer saw.
    """
    if estimator not in ESTIMATORS:
        raise ValueError(f"recalibrate: estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if num_batches is not None and (not isinstance(num_batches, int) or num_batches < 1):
        raise ValueError(f"recalibrate: num_batches must be a positive int, got {num_batches!r}")
    if not isinstance(model, nn.Module):
        raise TypeError(f"recalibrate: model must be a torch.nn.Module, got {type(model).__name__}")
    inner = _unwrap(model)
    all_bns = _bn_layers(inner)
    for name, bn in all_bns:
        if isinstance(bn, nn.modules.lazy.LazyModuleMixin) and bn.has_uninitialized_params():
            raise ValueError(f"recalibrate: lazy BN layer {name!r} is not initialised yet; "
                             "run one forward first")
    tracked = [(n, m) for n, m in all_bns if m.track_running_stats and m.running_mean is not None]
    if not tracked:
        raise ValueError("recalibrate: the model has no BatchNorm layer with running statistics")
    if device is None:
        device = tracked[0][1].running_mean.device
    device = torch.device(device)
    forward = forward or default_forward
    group, world, rank = _process_group(process_group)

    snapshot = _Snapshot(inner, [m for _, m in tracked])
    recorder = _Recorder(tracked, estimator)
    old = [(m.running_mean.detach().double().cpu(), m.running_var.detach().double().cpu())
           for _, m in tracked]
    handles = []
    patched_forward = []
    started = time.process_time(), time.perf_counter()
    try:
        with torch.no_grad():
            _enter_recalibration_mode(inner, tracked, patched_forward)
            recorder.install()
            handles = [m.register_forward_hook(recorder.hook) for _, m in tracked]
            seen = _feed(inner, data, forward, device, recorder, num_batches, progress and rank == 0,
                         stop_early)
            recorder.uninstall()
            recorder.flush()
            if world > 1:
                reduce = all_reduce_moments if estimator == "population" else all_reduce_batch_average
                reduce(recorder.accs, group=group)
                seen = _all_reduce_int(seen, group)
            if seen == 0:
                raise ValueError("recalibrate: data yielded no batches")
            snapshot.restore_buffers()
            results = _write_stats(tracked, recorder.accs, old, unbiased)
    except BaseException:
        recorder.uninstall()
        _remove(handles, patched_forward)
        snapshot.restore_modes_and_momenta()
        snapshot.restore_buffers()
        raise
    _remove(handles, patched_forward)
    snapshot.restore_modes_and_momenta()

    results += [LayerResult(n, "no-running-stats", "track_running_stats=False: always uses batch "
                            "statistics; nothing to recalibrate") for n, m in all_bns
                if not (m.track_running_stats and m.running_mean is not None)]
    order = {n: i for i, (n, _) in enumerate(all_bns)}
    results.sort(key=lambda r: order.get(r.name, 0))
    written = sum(r.verdict == "recalibrated" for r in results)
    samples = int(max((a.count for a in recorder.accs), default=0))
    return RecalibrationReport(
        kind="recalibrate",
        layers=results,
        ok_verdicts=RECALIBRATE_OK_VERDICTS,
        summary=(f"recalibrated {written} of {len(all_bns)} BN layer(s) from {seen} batch(es) "
                 f"({estimator} estimator{', ' + str(world) + ' ranks' if world > 1 else ''})"),
        meta={
            "estimator": estimator,
            "batches": seen,
            "max_values_per_channel": samples,
            "world_size": world,
            "stopped_early_batches": recorder.stopped_batches,
            "cpu_seconds": time.process_time() - started[0],
            "wall_seconds": time.perf_counter() - started[1],
        },
    )


def _process_group(process_group):
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return None, 1, 0
    return process_group, dist.get_world_size(process_group), dist.get_rank(process_group)


def _all_reduce_int(value: int, group) -> int:
    import torch.distributed as dist

    t = torch.tensor([float(value)], dtype=torch.float64)
    if "nccl" in str(dist.get_backend(group)).lower():
        t = t.cuda()
    dist.all_reduce(t, group=group)
    return int(t.item())


def _enter_recalibration_mode(model, tracked, patched_forward) -> None:
    """Everything in eval mode except the BN layers; BN momentum 1.0 so buffers = batch stats."""
    for m in model.modules():
        m.training = False
    for _, bn in tracked:
        bn.training = True
        bn.momentum = 1.0  # running stats := this batch's stats (written into BatchRows)
        if isinstance(bn, nn.SyncBatchNorm):
            # Its synchronised forward needs CUDA and would mix ranks' batches; the all-reduce of
            # (count, sum, M2) at the end is the synchronisation, so run it as a plain BN.
            bn.forward = types.MethodType(nn.modules.batchnorm._BatchNorm.forward, bn)
            patched_forward.append(bn)


def _remove(handles, patched_forward) -> None:
    for h in handles:
        h.remove()
    for bn in patched_forward:
        bn.__dict__.pop("forward", None)


def _batches_total(data, num_batches):
    try:
        n = len(data)
    except TypeError:
        return num_batches
    return min(n, num_batches) if num_batches else n


def _feed(model, data, forward, device, recorder, num_batches, progress, stop_early) -> int:
    bar = _progress_bar(_batches_total(data, num_batches)) if progress else None
    seen = 0
    try:
        for batch in data:
            if num_batches is not None and seen >= num_batches:
                break
            batch = _to_device(batch, device)
            try:
                forward(model, batch)
            except _StopForward:
                pass
            recorder.end_batch()
            if not stop_early:
                recorder.early_stop = False
            seen += 1
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return seen


def _progress_bar(total):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # tqdm is in the torch extra; without it, no bar
        return None
    # delay: short runs never show a bar; long ones do.
    return tqdm(total=total, desc="bnguard recalibrate", unit="batch", delay=2.0, leave=False)


def _write_stats(tracked, accs, old, unbiased) -> list[LayerResult]:
    results = []
    for (name, bn), acc, (old_mean, old_var) in zip(tracked, accs, old):
        if acc.batches == 0 or acc.mean is None:
            results.append(not_reached(name, bn.num_features))
            continue
        mean, var = acc.mean, acc.variance(unbiased)
        if not (torch.isfinite(mean).all() and torch.isfinite(var).all()):
            results.append(non_finite(name, bn.num_features))
            continue
        bn.running_mean.copy_(mean.to(bn.running_mean.device, bn.running_mean.dtype))
        bn.running_var.copy_(var.to(bn.running_var.device, bn.running_var.dtype))
        if bn.num_batches_tracked is not None:
            bn.num_batches_tracked.fill_(acc.batches)
        results.append(change_result(name, bn.eps, acc.batches, acc.count, old_mean.numpy(),
                                     old_var.numpy(), mean.cpu().numpy(), var.cpu().numpy()))
    return results


def swa_finish(averaged_model: nn.Module, data: Iterable, **kwargs) -> RecalibrationReport:
    """Finish SWA / EMA in one call: recalibrate the BN statistics of the averaged weights.

    Accepts a ``torch.optim.swa_utils.AveragedModel`` (its ``.module`` is recalibrated) or any
    model holding averaged weights (e.g. an EMA copy). Keyword arguments go to `recalibrate`.
    This replaces ``torch.optim.swa_utils.update_bn``: exact population statistics instead of an
    average of batch variances, Dropout stays off, any batch format, and distributed-safe.
    """
    from torch.optim.swa_utils import AveragedModel

    target = averaged_model.module if isinstance(averaged_model, AveragedModel) else averaged_model
    return recalibrate(target, data, **kwargs)
