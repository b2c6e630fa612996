"""bnguard.torch.recalibrate on real PyTorch models (CPU)."""
from __future__ import annotations

import copy
import pathlib
import sys

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402
from torch.optim.swa_utils import AveragedModel, update_bn  # noqa: E402

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _recal_models import SmallNet, make_batches, max_rel_errors, reference_stats  # noqa: E402

from bnguard.torch import RecalibrationReport, recalibrate, swa_finish  # noqa: E402


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _modes(model):
    return [m.training for m in model.modules()]


@pytest.fixture
def net():
    torch.manual_seed(0)
    return SmallNet()


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_population_stats_are_exact_where_update_bn_is_not(net, offset):
    batches = make_batches(offset=offset, non_iid=True)
    ref = reference_stats(net, batches)
    report = recalibrate(net, batches, progress=False)
    assert isinstance(report, RecalibrationReport) and report.ok
    assert report.verdicts() == {"bn1": "recalibrated", "bn2": "recalibrated"}
    err_mean, err_var = max_rel_errors(net, ref)
    assert err_mean < 1e-6 and err_var < 1e-6, (err_mean, err_var)

    # The batch-average estimator (update_bn's) misses the between-batch variance of non-iid data.
    peer = copy.deepcopy(net)
    recalibrate(peer, batches, estimator="batch-average", progress=False)
    assert max_rel_errors(peer, ref)[1] > 1e-3


def test_batch_average_estimator_matches_torch_update_bn():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3),
                          nn.BatchNorm2d(4))
    batches = make_batches(non_iid=True)
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    recalibrate(ours, batches, estimator="batch-average", progress=False)
    update_bn(batches, theirs)
    for a, b in zip(ours.modules(), theirs.modules()):
        if isinstance(a, nn.BatchNorm2d):
            torch.testing.assert_close(a.running_mean, b.running_mean, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(a.running_var, b.running_var, rtol=1e-5, atol=1e-6)


def test_dropout_stays_in_eval_and_modes_momenta_are_restored(net):
    batches = make_batches()
    net.train()
    net.bn2.momentum = None
    modes = _modes(net)
    ref = reference_stats(net, batches)  # Dropout off, BN in train mode
    recalibrate(net, batches, progress=False)
    assert max_rel_errors(net, ref)[1] < 1e-6  # with Dropout active bn2 would see other inputs
    assert _modes(net) == modes
    assert net.bn1.momentum == 0.1 and net.bn2.momentum is None
    assert int(net.bn1.num_batches_tracked) == len(batches)


def test_forward_stops_after_last_bn_and_matches_full_forward(net):
    batches = make_batches(n_batches=5)
    full = copy.deepcopy(net)
    report = recalibrate(net, batches, progress=False)
    assert net.head_calls == 1  # only the first batch (which learns the BN call order) ran the head
    assert report.meta["stopped_early_batches"] == 4
    recalibrate(full, batches, progress=False, stop_early=False)
    assert full.head_calls == 5
    assert _same_state(net.state_dict(), full.state_dict())


def test_dynamic_call_order_falls_back_to_full_forward():
    class Branchy(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.BatchNorm1d(4), nn.BatchNorm1d(4)
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            # odd batches visit b then a: the order learnt on the first batch does not hold
            first, second = (self.a, self.b) if self.calls % 2 else (self.b, self.a)
            return second(first(x) * 2 + 1)

    model = Branchy()
    batches = [torch.randn(16, 4) + i for i in range(4)]
    ref = reference_stats(model, [(x, None) for x in batches])
    model.calls = 0
    recalibrate(model, batches, progress=False)
    assert model.calls == 4
    assert max_rel_errors(model, ref)[1] < 1e-6


def test_atomic_on_loader_error_and_keyboard_interrupt(net):
    net.train()
    before_state, before_modes = _state(net), _modes(net)

    def failing(exc):
        yield from make_batches(n_batches=3)
        raise exc

    with pytest.raises(RuntimeError, match="loader died"):
        recalibrate(net, failing(RuntimeError("loader died")), progress=False)
    assert _same_state(net.state_dict(), before_state) and _modes(net) == before_modes
    with pytest.raises(KeyboardInterrupt):
        recalibrate(net, failing(KeyboardInterrupt()), progress=False)
    assert _same_state(net.state_dict(), before_state) and _modes(net) == before_modes
    assert net.bn1.momentum == 0.1
    assert not net.bn1._forward_hooks  # hooks removed


def test_default_forward_formats_and_custom_forward():
    torch.manual_seed(2)

    class KwModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm1d(3)

        def forward(self, features, scale=1.0):
            return self.bn(features * scale)

    xs = [torch.randn(10, 3) for _ in range(3)]
    results = []
    for data in (xs, [(x, 0) for x in xs], [{"input": x, "label": 0} for x in xs],
                 [{"features": x} for x in xs]):
        m = KwModel()
        recalibrate(m, data, progress=False)
        results.append(m.bn.running_var.clone())
    for r in results[1:]:
        torch.testing.assert_close(r, results[0])
    m = KwModel()
    recalibrate(m, [{"f": x} for x in xs], forward=lambda mod, b: mod(b["f"], scale=2.0),
                progress=False)
    torch.testing.assert_close(m.bn.running_var, results[0] * 4, rtol=1e-5, atol=1e-6)


def test_num_batches_unreached_layer_and_untracked_bn():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.used = nn.BatchNorm1d(4)
            self.unused = nn.BatchNorm1d(4)
            self.plain = nn.BatchNorm1d(4, track_running_stats=False)

        def forward(self, x):
            return self.plain(self.used(x))

    model = Net()
    consumed = []

    def stream():
        for i in range(100):
            consumed.append(i)
            yield torch.randn(8, 4)

    report = recalibrate(model, stream(), num_batches=5)  # progress bar on (tqdm, after 2 s)
    assert report.meta["batches"] == 5 and len(consumed) <= 6
    assert report.verdicts() == {"used": "recalibrated", "unused": "not-reached",
                                 "plain": "no-running-stats"}
    assert not report.ok and [r.name for r in report.problems] == ["unused"]
    assert int(model.used.num_batches_tracked) == 5 and int(model.unused.num_batches_tracked) == 0
    assert "unused" in str(report) and report.to_dict()["layers"][0]["values_per_channel"] == 40


def test_corrupted_stats_are_replaced_and_reported(net):
    net.bn1.running_var.fill_(float("nan"))
    batches = make_batches()
    report = recalibrate(net, batches, progress=False)
    assert torch.isfinite(net.bn1.running_var).all()
    assert "NaN" in report["bn1"].detail and report["bn1"].data["old_finite"] is False
    assert report["bn2"].data["max_mean_shift_std"] > 0


def test_bad_input_gives_clear_errors_and_leaves_model_untouched(net):
    before = _state(net)
    with pytest.raises(ValueError, match="no batches"):
        recalibrate(net, [], progress=False)
    with pytest.raises(ValueError, match="no BatchNorm"):
        recalibrate(nn.Linear(3, 3), [torch.randn(2, 3)], progress=False)
    with pytest.raises(ValueError, match="estimator"):
        recalibrate(net, [], estimator="median", progress=False)
    assert _same_state(net.state_dict(), before)


def test_frozen_bn_statistics_are_repaired_by_recalibration():
    """A real bug (Lightning#14866): BN momentum 0 freezes the running statistics at 0/1 while the
    layer trains with batch statistics, so eval-mode predictions differ from what the network
    learnt. Recalibration repairs them and the report shows what was wrong."""
    torch.manual_seed(3)
    model = nn.Sequential(nn.Linear(5, 16), nn.BatchNorm1d(16, momentum=0.0), nn.ReLU(),
                          nn.Linear(16, 1))
    x = torch.randn(512, 5) * 3 + 4
    y = (x[:, :1] - 4) * 2 + x[:, 1:2]
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for _ in range(60):
        idx = torch.randint(0, 512, (64,))
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.equal(model[1].running_mean, torch.zeros(16))  # the freeze happened

    with torch.no_grad():
        learnt = nn.functional.mse_loss(model(x), y).item()  # train mode: batch statistics
        model.eval()
        frozen = nn.functional.mse_loss(model(x), y).item()
        report = recalibrate(model, x.split(64), progress=False)
        repaired = nn.functional.mse_loss(model(x), y).item()
    assert report.ok and report[0].data["max_mean_shift_std"] > 0.5  # it shows what was wrong
    assert frozen > 2 * learnt and repaired <= learnt * 1.05, (learnt, frozen, repaired)
    assert not model.training and not model[1].training and model[1].momentum == 0.0


def test_swa_finish_recalibrates_the_averaged_weights(net):
    batches = make_batches(non_iid=True)
    swa = AveragedModel(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    for x, y in batches[:3]:
        net.train()
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        swa.update_parameters(net)
    ref = reference_stats(swa.module, batches)
    report = swa_finish(swa, batches, progress=False)
    assert report.ok and max_rel_errors(swa.module, ref)[1] < 1e-6
    peer = AveragedModel(net)
    peer.load_state_dict(swa.state_dict())
    update_bn(batches, peer)
    assert max_rel_errors(peer.module, ref)[1] > 1e-2  # update_bn: Dropout on, batch-average var


def test_many_batches_across_record_chunks_and_nan_batch():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5))
    batches = [(torch.randn(6, 3) * (1 + i % 7) + i * 0.1, None) for i in range(150)]  # > 2 chunks
    ref = reference_stats(model, batches)
    report = recalibrate(model, batches, progress=False)
    assert report[0].data["batches"] == 150
    assert max_rel_errors(model, ref)[1] < 1e-6

    before = _state(model)
    poisoned = batches[:70] + [(torch.full((6, 3), float("nan")), None)] + batches[70:]
    report = recalibrate(model, poisoned, progress=False)
    assert report.verdicts() == {"1": "non-finite"} and not report.ok
    assert _same_state(model.state_dict(), before)  # old statistics kept
