"""Per-rank divergence of BN statistics, detected by Monitor across 2 real gloo processes."""
import os
import socket

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from torch import nn  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank, world, port, broadcast_buffers, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        from bnguard.torch import Monitor

        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
        ddp = nn.parallel.DistributedDataParallel(model, broadcast_buffers=broadcast_buffers)
        opt = torch.optim.SGD(ddp.parameters(), lr=0.01)
        mon = Monitor(model, opt, every=3, on_alert="record")
        g = torch.Generator().manual_seed(100 + rank)  # each rank sees its own shard
        for _ in range(7):  # the check after the record at step 3 runs in the forward of step 4
            x = torch.randn(16, 4, generator=g) * (1 + rank) + rank
            opt.zero_grad()
            ddp(x).pow(2).mean().backward()
            opt.step()
        mon.close()
        out[rank] = [(a.kind, a.layer, a.step) for a in mon.alerts]
    finally:
        dist.destroy_process_group()


def _run(broadcast_buffers):
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(2, _free_port(), broadcast_buffers, out), nprocs=2, join=True)
        return dict(out)


def test_unsynchronised_buffers_are_reported_on_every_rank():
    out = _run(broadcast_buffers=False)
    assert out[0] == out[1] == [("rank-divergence", "1", 3)]


def test_broadcast_buffers_keep_ranks_identical():
    out = _run(broadcast_buffers=True)
    assert out[0] == out[1] == []
