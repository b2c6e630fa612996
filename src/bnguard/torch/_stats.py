"""Per-channel (count, mean, M2) statistics merged in float64, on one process or across ranks.

Recalibration reads each BN layer's *own* batch statistics (the batch mean and the unbiased batch
variance that BN computes, centred, in the input dtype) and merges them with Chan et al.'s
parallel formula in float64:

    n = n_a + n_b
    mean = mean_a + (mean_b - mean_a) * n_b / n
    M2 = M2_a + M2_b + (mean_b - mean_a)^2 * n_a * n_b / n

This avoids the float32 E[x^2] - mean^2 cancellation (wrong by 25% at input mean/std = 1000) and
keeps the between-batch variance that an average of per-batch variances misses.

BN writes its batch statistics straight into rows of a chunk matrix (`BatchRows`); full chunks are
folded into the float64 accumulator in one vectorised merge, so a BN call costs no extra tensor op.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["BatchRows", "ChannelMoments", "BatchAverage", "all_reduce_moments", "all_reduce_batch_average"]

# Pending per-batch values folded into the float64 totals this often (memory vs. launch overhead).
_CHUNK = 64


def _accumulator_device(device: torch.device) -> torch.device:
    # MPS has no float64; merge on the CPU there.
    return torch.device("cpu") if device.type == "mps" else device


class BatchRows:
    """Where one BN layer writes its batch statistics during recalibration.

    With momentum 1.0, BN's in-place update writes the batch mean and unbiased batch variance
    into its ``running_mean`` / ``running_var``. Those buffers are swapped for row views of two
    ``[chunk, C]`` matrices, so BN's own update *is* the record: the hot path costs no tensor
    op, only moving to the next row. A full chunk is handed to the accumulator in one vectorised
    merge.
    """

    def __init__(self, like_mean: torch.Tensor, like_var: torch.Tensor, sink):
        shape = (_CHUNK,) + tuple(like_mean.shape)
        self.mean_rows = torch.zeros(shape, dtype=like_mean.dtype, device=like_mean.device)
        self.var_rows = torch.ones(shape, dtype=like_var.dtype, device=like_var.device)
        self.mean_views = list(self.mean_rows.unbind(0))
        self.var_views = list(self.var_rows.unbind(0))
        self.sink = sink
        self.k = 0
        self.ns: list[int] = []
        self.refined: list[torch.Tensor] = []

    def current(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.mean_views[self.k], self.var_views[self.k]

    def advance(self, n: int, refined_mean: torch.Tensor | None = None):
        """The current row holds a finished call over ``n`` values; return the next row."""
        self.ns.append(n)
        if refined_mean is not None:
            self.refined.append(refined_mean)
        self.k += 1
        if self.k == _CHUNK:
            self.flush()
        return self.current()

    def flush(self) -> None:
        k = self.k
        if not k:
            return
        dev = _accumulator_device(self.mean_rows.device)
        means = (torch.stack(self.refined).to(dev, torch.float64) if self.refined
                 else self.mean_rows[:k].to(dev, torch.float64))
        uvars = self.var_rows[:k].to(dev, torch.float64)
        ns = torch.tensor(self.ns, dtype=torch.float64, device=dev)
        self.sink.add_chunk(ns, means, uvars)
        # momentum 1.0 computes 0 * old + batch: reset, so a NaN batch cannot leak into the next
        self.mean_rows.zero_()
        self.var_rows.fill_(1.0)
        self.k, self.ns, self.refined = 0, [], []


@dataclass
class ChannelMoments:
    """Exact population moments of one BN layer's input, per channel."""

    channels: int
    device: torch.device
    count: float = 0.0
    batches: int = 0
    mean: torch.Tensor | None = None
    m2: torch.Tensor | None = None

    def add_chunk(self, ns: torch.Tensor, means: torch.Tensor, uvars: torch.Tensor) -> None:
        """Merge BN calls: ``ns[i]`` values per channel, batch means and unbiased variances."""
        n_b = float(ns.sum())
        mean_b = (ns[:, None] * means).sum(0) / n_b
        m2_b = ((ns - 1.0)[:, None] * uvars).sum(0) + (ns[:, None] * (means - mean_b) ** 2).sum(0)
        self.batches += int(ns.numel())
        self._merge(n_b, mean_b, m2_b)

    def _merge(self, n_b: float, mean_b: torch.Tensor, m2_b: torch.Tensor) -> None:
        if self.mean is None or self.count == 0:
            self.count, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n = self.count + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + delta**2 * (self.count * n_b / n)
        self.count = n

    def variance(self, unbiased: bool) -> torch.Tensor:
        denom = self.count - 1.0 if unbiased else self.count
        return self.m2 / max(denom, 1.0)


@dataclass
class BatchAverage:
    """What ``torch.optim.swa_utils.update_bn`` computes: equal-weight average of batch means and
    unbiased batch variances (kept for comparison; it misses the between-batch variance)."""

    channels: int
    device: torch.device
    count: float = 0.0
    batches: int = 0
    mean_sum: torch.Tensor | None = None
    var_sum: torch.Tensor | None = None

    def add_chunk(self, ns: torch.Tensor, means: torch.Tensor, uvars: torch.Tensor) -> None:
        m, v = means.sum(0), uvars.sum(0)
        if self.mean_sum is None:
            self.mean_sum, self.var_sum = m, v
        else:
            self.mean_sum = self.mean_sum + m
            self.var_sum = self.var_sum + v
        self.count += float(ns.sum())
        self.batches += int(ns.numel())

    @property
    def mean(self) -> torch.Tensor | None:
        return None if self.mean_sum is None else self.mean_sum / max(self.batches, 1)

    def variance(self, unbiased: bool) -> torch.Tensor:
        return self.var_sum / max(self.batches, 1)


def _zeros_like_layer(acc, dev) -> torch.Tensor:
    return torch.zeros(acc.channels, dtype=torch.float64, device=dev)


def all_reduce_moments(accs: list[ChannelMoments], group=None) -> None:
    """Merge every rank's moments so each rank holds the moments of all ranks' data.

    Two all-reduces over one flat float64 tensor each: (count, count*mean) gives the global mean,
    then each rank's M2 re-centred on it, ``M2_r + n_r (mean_r - mean)^2``, sums to the global M2.
    Layers a rank never saw take part with zeros, so every rank calls the same collectives.
    """
    import torch.distributed as dist

    if not accs:
        return
    dev = _collective_device(accs, group)
    counts = torch.tensor([a.count for a in accs] + [a.batches for a in accs],
                          dtype=torch.float64, device=dev)
    sums = torch.cat([(a.mean.to(dev) * a.count) if a.mean is not None else _zeros_like_layer(a, dev)
                      for a in accs])
    dist.all_reduce(counts, group=group)
    dist.all_reduce(sums, group=group)
    k = len(accs)
    totals, batches = counts[:k].tolist(), counts[k:].tolist()
    global_means = []
    offset = 0
    for a, n in zip(accs, totals):
        s = sums[offset:offset + a.channels]
        offset += a.channels
        global_means.append(s / n if n > 0 else s)
    centred = torch.cat([
        (a.m2.to(dev) + a.count * (a.mean.to(dev) - gm) ** 2) if a.mean is not None
        else _zeros_like_layer(a, dev)
        for a, gm in zip(accs, global_means)
    ])
    dist.all_reduce(centred, group=group)
    offset = 0
    for a, n, nb, gm in zip(accs, totals, batches, global_means):
        m2 = centred[offset:offset + a.channels]
        offset += a.channels
        home = _accumulator_device(a.device)
        a.count, a.batches = n, int(nb)
        a.mean, a.m2 = (gm.to(home), m2.to(home)) if n > 0 else (None, None)


def all_reduce_batch_average(accs: list[BatchAverage], group=None) -> None:
    """Sum per-batch means, variances and batch counts over ranks (the batch-average estimator)."""
    import torch.distributed as dist

    if not accs:
        return
    dev = _collective_device(accs, group)
    counts = torch.tensor([a.count for a in accs] + [a.batches for a in accs],
                          dtype=torch.float64, device=dev)
    flat = torch.cat([
        torch.cat([a.mean_sum.to(dev), a.var_sum.to(dev)]) if a.mean_sum is not None
        else torch.zeros(2 * a.channels, dtype=torch.float64, device=dev)
        for a in accs
    ])
    dist.all_reduce(counts, group=group)
    dist.all_reduce(flat, group=group)
    k = len(accs)
    offset = 0
    for i, a in enumerate(accs):
        c = a.channels
        home = _accumulator_device(a.device)
        a.count, a.batches = counts[i].item(), int(counts[k + i].item())
        if a.batches > 0:
            a.mean_sum = flat[offset:offset + c].to(home)
            a.var_sum = flat[offset + c:offset + 2 * c].to(home)
        else:
            a.mean_sum = a.var_sum = None
        offset += 2 * c


def _collective_device(accs, group) -> torch.device:
    """NCCL needs CUDA tensors; gloo (and others) take CPU tensors."""
    import torch.distributed as dist

    backend = str(dist.get_backend(group)).lower()
    if "nccl" in backend:
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")
