"""2 processes, gloo on CPU: every rank ends with the statistics of a single-process run over
all the data (plain BN, the batch-average estimator, SyncBatchNorm and a DDP-wrapped model)."""
from __future__ import annotations

import pathlib
import sys

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE))
import _recal_dist_worker as worker  # noqa: E402
from _recal_models import make_batches  # noqa: E402

from bnguard.torch import recalibrate  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="torch.distributed with gloo is not available")


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    mp.spawn(worker.run, args=(2, str(tmp / "init"), str(tmp)), nprocs=2, join=True)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(2)]


def _single_process(variant):
    model = worker.build("plain")
    estimator = "batch-average" if variant == "batch-average" else "population"
    data = make_batches(n_batches=worker.N_BATCHES, offset=1000.0, non_iid=True)
    recalibrate(model, data, estimator=estimator, progress=False)
    return worker.buffers(model)


@pytest.mark.parametrize("variant", worker.VARIANTS)
def test_ranks_match_single_process_over_all_data(rank_results, variant):
    expected = _single_process(variant)
    initial = worker.buffers(worker.build("plain"))
    for r, res in enumerate(rank_results):
        got = res[variant]
        assert got["ok"] and got["world"] == 2 and got["batches"] == worker.N_BATCHES
        assert got["training"] == [True] * len(got["training"])  # modes restored on every rank
        for key, want in expected.items():
            have = got["buffers"][key]
            if key.endswith("num_batches_tracked"):
                assert int(have) == worker.N_BATCHES, (r, key)
                continue
            assert not torch.equal(have, initial[key])
            torch.testing.assert_close(have, want, rtol=1e-6, atol=1e-6 * want.abs().max().item(),
                                       msg=f"rank {r} {variant} {key}")
    # identical on both ranks, bit for bit
    for key in expected:
        assert torch.equal(rank_results[0][variant]["buffers"][key],
                           rank_results[1][variant]["buffers"][key])
