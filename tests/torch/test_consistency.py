"""bnguard.torch.consistency on a real trained model: healthy, stale, never updated."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from bnguard.torch import consistency  # noqa: E402

from _probe_models import BN_NAMES, TinyResNet  # noqa: E402
from _state_compare import assert_same_state, full_state  # noqa: E402


def _data(shift: float, scale: float, seed: int, n: int = 32):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, 8, 8, generator=g) * scale + shift
    y = (x.mean(dim=(1, 2, 3)) > shift).long()  # a learnable label
    return x, y


def _train(model, steps: int, eval_mode: bool = False):
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for i in range(steps):
        x, y = _data(2.0, 3.0, seed=i)
        model.train(not eval_mode)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def trained():
    torch.manual_seed(0)
    return _train(TinyResNet(momentum=0.3), steps=25)


def test_trained_model_on_its_own_data_is_consistent(trained):
    before = full_state(trained)
    report = consistency(trained, _data(2.0, 3.0, seed=100))
    assert report.ok, str(report)
    assert set(report.verdicts()) == set(BN_NAMES)
    assert all(r.data["distance"] < 1.0 for r in report)
    assert_same_state(before, full_state(trained))  # no buffer moved, modes kept


def test_shifted_data_makes_stale_stats_inconsistent(trained):
    trained.eval()
    before = full_state(trained)
    report = consistency(trained, _data(-6.0, 0.3, seed=100))  # a new domain
    assert report.verdicts()["stem.1"] == "inconsistent"
    assert report["stem.1"].data["mean_shift"] > 1.0
    assert not report.ok
    assert_same_state(before, full_state(trained))
    assert not trained.training


def test_model_trained_in_eval_mode_is_at_init():
    torch.manual_seed(0)
    model = _train(TinyResNet(), steps=3, eval_mode=True)  # the freeze bug
    report = consistency(model, _data(2.0, 3.0, seed=100))
    assert set(report.verdicts().values()) == {"at-init"}


def test_unreached_layer_is_not_called(trained):
    trained.extra = nn.BatchNorm1d(4)
    trained.extra.running_mean.fill_(0.5)  # not at init
    try:
        report = consistency(trained, (_data(2.0, 3.0, seed=1)[0], None))
        assert report.verdicts()["extra"] == "not-called"
    finally:
        del trained.extra


def test_bad_input():
    with pytest.raises(TypeError, match="nn.Module"):
        consistency({"state": 1}, torch.zeros(1))
