"""`Monitor`: watch the BN statistics of a PyTorch model while it trains.

    with bnguard.torch.Monitor(model, optimizer, logdir="runs/bn", every=100) as mon:
        for x, y in loader:
            ...; optimizer.step()
    mon.alerts  # [Alert(step=1201, layer="layer3.0.bn1", kind="eval-mode", ...)]

How it observes, and why it is cheap:
- a forward hook on each BN-like module counts its calls and notes the mode and grad state of each
  call (a few attribute reads);
- an optimizer step post-hook (or ``monitor.step()``) counts steps and checks, for the layers used
  since the last step, whether they ran in eval mode (``eval-mode``);
- every ``every`` steps it compares the running statistics with the previous record (``frozen``:
  called in training but unchanged; ``nonfinite``), writes one small summary per layer to the
  crash-safe log and, when a process group is initialized, compares a hash of the statistics
  across ranks (``rank-divergence``). That comparison runs at the start of the next training
  forward, after DDP's buffer broadcast and before this step's update: with
  ``broadcast_buffers=True`` ranks agree there, while rank-local buffers have drifted apart. It
  runs only in a training forward with gradients enabled, which all ranks execute in lockstep, so a
  rank-0-only validation never enters a collective;
- a BN call in train mode with gradients disabled (validation run in train mode) changes the
  statistics outside training: ``contaminated``.
Layers deliberately frozen (all affine parameters ``requires_grad=False``, or listed in
``ignore``) are not reported as ``eval-mode``/``frozen``.
"""
from __future__ import annotations

import contextlib
from typing import Iterable, Optional

import torch

from bnguard.monitoring import AlertSink, OnAlert
from bnguard.report.log import StatsLog, now


def bn_like_modules(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """(name, module) of every module with ``running_mean``/``running_var`` tensors."""
    out = []
    for name, m in model.named_modules():
        rm, rv = getattr(m, "running_mean", None), getattr(m, "running_var", None)
        if isinstance(rm, torch.Tensor) and isinstance(rv, torch.Tensor):
            out.append((name or type(m).__name__, m))
    return out


class _LayerState:
    __slots__ = ("name", "module", "calls_train", "calls_eval", "calls_nograd_train", "step_calls_eval",
                 "step_calls", "prev_mean", "prev_var", "deliberately_frozen", "training_at_step")

    def __init__(self, name: str, module: torch.nn.Module, ignored: bool):
        self.name, self.module = name, module
        self.calls_train = self.calls_eval = self.calls_nograd_train = 0
        self.step_calls = self.step_calls_eval = 0
        self.prev_mean = module.running_mean.detach().clone()
        self.prev_var = module.running_var.detach().clone()
        params = [p for p in (getattr(module, "weight", None), getattr(module, "bias", None)) if isinstance(p, torch.nn.Parameter)]
        self.deliberately_frozen = ignored or (bool(params) and not any(p.requires_grad for p in params)) \
            or bool(getattr(module, "_bnguard_frozen", False))
        self.training_at_step = module.training


class Monitor:
    def __init__(self, model: torch.nn.Module, optimizer: Optional[torch.optim.Optimizer] = None, *,
                 logdir: Optional[str] = None, every: int = 100, on_alert: OnAlert = "warn",
                 ignore: Iterable[str] = (), tensorboard: bool = False, check_ranks: bool = True):
        if every < 1:
            raise ValueError("every must be >= 1")
        self.model, self.every = model, every
        self.step_count = 0
        self._log = StatsLog(logdir) if logdir else None
        self._sink = AlertSink(on_alert, self._log)
        ignore = tuple(ignore)
        self._layers = [
            _LayerState(n, m, any(n == i or n.startswith(i + ".") for i in ignore))
            for n, m in bn_like_modules(model)
        ]
        self._handles = []
        self._paused = False
        self._check_ranks = check_ranks
        self._rank_check_pending = False
        for st in self._layers:
            self._handles.append(st.module.register_forward_hook(self._make_hook(st)))
            self._handles.append(st.module.register_forward_pre_hook(self._pre_hook))
        if optimizer is not None:
            self._handles.append(optimizer.register_step_post_hook(lambda *_: self.step()))
        self._tb = None
        if tensorboard and logdir:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(logdir)
            except Exception:  # tensorboard not installed: the JSON log is enough
                self._tb = None
        if self._log is not None:
            self._log.write({"type": "meta", "framework": "pytorch", "every": every, "time": now(),
                             "model": type(model).__name__, "layers": [s.name for s in self._layers]})
            self._record(force=True)

    # --- public API ---------------------------------------------------------------------------
    @property
    def alerts(self):
        return list(self._sink.alerts)

    def step(self) -> None:
        """Count one optimizer step (called automatically when an optimizer was given)."""
        self.step_count += 1
        for st in self._layers:
            if st.step_calls and st.step_calls_eval == st.step_calls and not st.deliberately_frozen:
                self._sink.emit(self.step_count, st.name, "eval-mode",
                                f"BN layer '{st.name}' ran in eval mode during training step {self.step_count}: "
                                "its running statistics are frozen and batch statistics unused (model.eval() left on?)")
            elif st.step_calls and st.step_calls_eval == 0:
                self._sink.clear(st.name, "eval-mode")
            st.step_calls = st.step_calls_eval = 0
        if self.step_count % self.every == 0:
            self._record()

    @contextlib.contextmanager
    def paused(self):
        """Deliberate train-mode passes without gradients (recalibration) are not 'contaminated'."""
        self._paused = True
        try:
            yield self
        finally:
            self._paused = False
            for st in self._layers:
                st.prev_mean.copy_(st.module.running_mean.detach())
                st.prev_var.copy_(st.module.running_var.detach())

    def close(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        if self._log is not None:
            self._log.close()
        if self._tb is not None:
            self._tb.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # --- internals ----------------------------------------------------------------------------
    def _make_hook(self, st: _LayerState):
        def hook(module, inputs, output):
            st.step_calls += 1
            if module.training:
                st.calls_train += 1
                if not torch.is_grad_enabled() and not self._paused and getattr(module, "track_running_stats", True) \
                        and getattr(module, "momentum", 0.1) != 0:
                    st.calls_nograd_train += 1
                    self._sink.emit(self.step_count, st.name, "contaminated",
                                    f"BN layer '{st.name}' ran in train mode without gradients (evaluation in train mode?): "
                                    "its running statistics absorbed evaluation data")
            else:
                st.calls_eval += 1
                st.step_calls_eval += 1
        return hook

    def _pre_hook(self, module, inputs):
        if self._rank_check_pending and module.training and torch.is_grad_enabled():
            self._rank_check_pending = False
            for name in self._rank_hashes() or ():
                self._sink.emit(self.step_count, name, "rank-divergence",
                                f"BN layer '{name}' has different running statistics on different ranks "
                                "(buffers not synchronised: broadcast_buffers=False or no SyncBatchNorm)")

    def _rank_hashes(self) -> Optional[list[str]]:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() < 2:
            return None
        local = torch.tensor([[st.module.running_mean.double().sum().item(), st.module.running_var.double().sum().item()]
                              for st in self._layers] or [[0.0, 0.0]], dtype=torch.float64)
        gathered = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, local)
        diverged = []
        for i, st in enumerate(self._layers):
            vals = torch.stack([g[i] for g in gathered])
            spread = (vals.max(0).values - vals.min(0).values).abs().max().item()
            scale = max(vals.abs().max().item(), 1e-12)
            if spread / scale > 1e-6:
                diverged.append(st.name)
        return diverged

    def _record(self, force: bool = False) -> None:
        step = self.step_count
        records = []
        with torch.no_grad():
            for st in self._layers:
                m = st.module
                mean, var = m.running_mean.detach(), m.running_var.detach()
                finite = bool(torch.isfinite(mean).all() and torch.isfinite(var).all())
                mean_delta = float((mean.double() - st.prev_mean.double()).norm())
                var_delta = float((var.double() - st.prev_var.double()).norm())
                nbt = getattr(m, "num_batches_tracked", None)
                records.append({"type": "stats", "step": step, "layer": st.name,
                                "mean_norm": float(mean.double().norm()), "var_mean": float(var.double().mean()),
                                "mean_delta": mean_delta, "var_delta": var_delta,
                                "updates": int(nbt) if isinstance(nbt, torch.Tensor) else None,
                                "finite": finite, "training": bool(m.training), "calls": st.calls_train})
                if not force:
                    self._check_layer(st, step, finite, mean_delta + var_delta)
                st.prev_mean.copy_(mean)
                st.prev_var.copy_(var)
                st.calls_train = st.calls_eval = st.calls_nograd_train = 0
        if self._log is not None:
            self._log.write_many(records)
        if self._tb is not None:
            for r in records:
                self._tb.add_scalar(f"bn/{r['layer']}/mean_norm", r["mean_norm"], step)
                self._tb.add_scalar(f"bn/{r['layer']}/var_mean", r["var_mean"], step)
        if not force and self._check_ranks:
            import torch.distributed as dist

            self._rank_check_pending = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

    def _check_layer(self, st: _LayerState, step: int, finite: bool, change: float) -> None:
        if not finite:
            self._sink.emit(step, st.name, "nonfinite",
                            f"BN layer '{st.name}' has NaN/Inf running statistics at step {step}")
        else:
            self._sink.clear(st.name, "nonfinite")
        if st.deliberately_frozen:
            return
        used = st.calls_train + st.calls_eval
        if used and change == 0.0:
            why = "it ran in eval mode" if st.calls_eval and not st.calls_train else "its update did not run"
            self._sink.emit(step, st.name, "frozen",
                            f"BN layer '{st.name}' running statistics did not change over the last {self.every} "
                            f"optimizer step(s) (up to step {step}): {why}")
        elif change > 0:
            self._sink.clear(st.name, "frozen")
