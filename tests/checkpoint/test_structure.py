"""BN layers are found by structure (a mean/var pair of one length + affine pair or counter), not by
a fixed list of names; look-alikes that are not BN are left alone."""
from __future__ import annotations

import numpy as np
import pytest

from bnguard.checkpoint import inspect

torch = pytest.importorskip("torch")


class OnePassBN(torch.nn.Module):
    """A hand-written BN like those in research code: its own names, one-pass variance E[x²]−E[x]²."""

    def __init__(self, c):
        super().__init__()
        self.gamma = torch.nn.Parameter(torch.ones(c))
        self.beta = torch.nn.Parameter(torch.zeros(c))
        self.register_buffer("pop_mean", torch.zeros(c))
        self.register_buffer("pop_var", torch.ones(c))

    def forward(self, x):
        m = x.mean(0)
        v = (x * x).mean(0) - m * m  # cancels catastrophically in half precision
        if self.training:
            with torch.no_grad():
                self.pop_mean.mul_(0.9).add_(0.1 * m.float())
                self.pop_var.mul_(0.9).add_(0.1 * v.float())
        return (x - m) / torch.sqrt(v.abs() + 1e-3) * self.gamma.half() + self.beta.half()


class RunningNormalizer(torch.nn.Module):
    """Not BN: an observation normaliser (mean/var/float count, no affine pair)."""

    def __init__(self, c):
        super().__init__()
        self.register_buffer("mean", torch.zeros(c))
        self.register_buffer("var", torch.ones(c))
        self.register_buffer("count", torch.tensor(1e-4))


def test_hand_written_half_precision_bn_negative_variance(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.ModuleDict({"norm": OnePassBN(16), "ln": torch.nn.LayerNorm(16),
                                 "obs": RunningNormalizer(16), "head": torch.nn.Linear(16, 16)})
    for _ in range(5):
        model["norm"](((100 + 0.2 * torch.randn(32, 16))).half())
    assert (model["norm"].pop_var < 0).any()  # the failure really happened
    path = tmp_path / "hand.pt"
    torch.save(model.state_dict(), path)
    rep = inspect(path)
    assert rep.verdicts() == {"norm": "negative-variance"}  # ln / obs / head are not BN
    assert f"{int((model['norm'].pop_var < 0).sum())} of 16 variances are negative" in rep["norm"].detail
    assert "negative moving variance" in rep.summary


def test_affine_free_bn_is_recognised_by_its_counter(tmp_path):
    bn = torch.nn.BatchNorm1d(3, affine=False)
    bn(torch.randn(8, 3))
    torch.save({"encoder": {"norm": bn.state_dict()}}, tmp_path / "bn.pt")
    rep = inspect(tmp_path / "bn.pt")
    assert rep.verdicts() == {"encoder.norm": "ok"}
    assert rep["encoder.norm"].data["num_batches_tracked"] == 1


def test_flax_chunked_arrays(tmp_path, monkeypatch):
    serialization = pytest.importorskip("flax.serialization")
    monkeypatch.setattr(serialization, "MAX_CHUNK_SIZE", 64)  # force flax to chunk the arrays
    rng = np.random.default_rng(0)
    state = {"params": {"bn": {"scale": np.ones(50, np.float32), "bias": np.zeros(50, np.float32)}},
             "batch_stats": {"bn": {"mean": rng.normal(size=50).astype(np.float32),
                                    "var": np.full(50, 2.0, np.float32)}}}
    data = serialization.msgpack_serialize(state)
    assert b"__msgpack_chunked_array__" in data
    (tmp_path / "s.msgpack").write_bytes(data)
    rep = inspect(tmp_path / "s.msgpack")
    assert rep.verdicts() == {"bn": "ok"} and rep["bn"].data["var_max"] == 2.0
    assert rep["bn"].data["mean_max"] == pytest.approx(float(state["batch_stats"]["bn"]["mean"].max()))


def test_counter_advanced_but_stats_did_not(tmp_path):
    bn = torch.nn.BatchNorm1d(3, momentum=0.0)  # momentum 0: every update keeps the old value
    bn.train()
    for _ in range(3):
        bn(torch.randn(8, 3) + 4)
    torch.save(bn.state_dict(), tmp_path / "m0.pt")
    rep = inspect(tmp_path / "m0.pt")
    assert rep.verdicts() == {"(root)": "never-updated"} and rep["(root)"].data["num_batches_tracked"] == 3
    assert "counters advanced but the statistics did not" in rep.summary
