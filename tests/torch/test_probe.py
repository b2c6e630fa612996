"""bnguard.torch.probe on real models: each verdict is produced by really doing the wrong thing."""
from __future__ import annotations

import copy
import math

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from bnguard.result import BNProblem  # noqa: E402
from bnguard.torch import freeze_bn, probe  # noqa: E402

from _probe_models import BN_NAMES, TinyResNet, make_batch, train_step_fn  # noqa: E402
from _state_compare import assert_same_state, full_state  # noqa: E402


def _setup(momentum=0.1, checkpointing=None, opt="adam"):
    torch.manual_seed(0)
    model = TinyResNet(momentum=momentum, checkpointing=checkpointing)
    if opt == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, make_batch()


def test_healthy_step_is_updated_and_state_restored():
    model, opt, batch = _setup()
    before = full_state(model, opt)
    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt)
    assert report.ok, str(report)
    assert set(report.verdicts()) == set(BN_NAMES)
    assert set(report.verdicts().values()) == {"updated"}
    for layer in report:
        assert layer.data["observed_fraction"] == pytest.approx(0.1, abs=1e-3)
    assert isinstance(report.step_output, float)
    assert_same_state(before, full_state(model, opt))
    # The restored model trains exactly like one that was never probed.
    twin, twin_opt, _ = _setup()
    train_step_fn(twin, twin_opt, batch)()
    train_step_fn(model, opt, batch)()
    assert_same_state(full_state(twin, twin_opt), full_state(model, opt))


def test_eval_mode_left_on_is_frozen_eval_mode():
    model, opt, (x, y) = _setup()

    def step():  # the bug: model.eval() from validation, never switched back
        model.eval()
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    before = full_state(model, opt)
    report = probe(model, step, optimizer=opt)
    assert set(report.verdicts().values()) == {"frozen-eval-mode"}
    assert not report.ok
    with pytest.raises(BNProblem, match="frozen-eval-mode"):
        report.raise_if_problems()
    assert_same_state(before, full_state(model, opt))
    assert model.training  # the eval() inside the step was undone too


def test_validation_in_train_mode_is_contaminated():
    model, opt, batch = _setup()
    x_val, _ = make_batch(seed=5)

    def validate():  # the bug: no model.eval(); no_grad does not stop the statistics update
        with torch.no_grad():
            model(x_val)

    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt, eval_step=validate)
    assert set(report.verdicts().values()) == {"contaminated"}
    assert report["stem.1"].data["train_verdict"] == "updated"

    def validate_ok():
        model.eval()
        with torch.no_grad():
            model(x_val)

    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt, eval_step=validate_ok)
    assert report.ok, str(report)


def test_shared_bn_called_twice_is_updated_multiple_times():
    class Siamese(nn.Module):  # one encoder applied to both views, as in contrastive code
        def __init__(self):
            super().__init__()
            self.enc = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())

        def forward(self, a, b):
            return (self.enc(a) - self.enc(b)).pow(2).mean()

    torch.manual_seed(0)
    model = Siamese()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    a, _ = make_batch(1)
    b, _ = make_batch(2)

    def step():
        opt.zero_grad()
        model(a, b).backward()
        opt.step()

    report = probe(model, step, optimizer=opt)
    assert report.verdicts() == {"enc.1": "updated-multiple-times"}
    assert report["enc.1"].data["updating_calls"] == 2


@pytest.mark.parametrize("mode", ["reentrant", "non-reentrant"])
def test_checkpoint_recompute_doubles_updates(mode):
    model, opt, batch = _setup(checkpointing=mode, opt="sgd")
    # The mechanism, measured without the probe: after one step the checkpointed BN has moved by
    # 1 - 0.9**2 = 0.19 of the way, the others by 0.1.
    plain = copy.deepcopy(model)
    plain_opt = torch.optim.SGD(plain.parameters(), lr=0.1, momentum=0.9)
    train_step_fn(plain, plain_opt, batch)()
    assert int(plain.layer1.bn1.num_batches_tracked) == 2
    assert int(plain.stem[1].num_batches_tracked) == 1

    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt)
    v = report.verdicts()
    checkpointed = [n for n in BN_NAMES if n.startswith(("layer1", "layer2"))]
    assert {v[n] for n in checkpointed} == {"updated-multiple-times"}
    assert v["stem.1"] == v["head_bn"] == "updated"


def test_tf_convention_momentum_is_suspicious():
    model, opt, batch = _setup(momentum=0.99)  # Keras' 0.99 copied into PyTorch
    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt)
    assert set(report.verdicts().values()) == {"suspicious-momentum"}
    assert report["head_bn"].data["observed_fraction"] == pytest.approx(0.99, abs=1e-3)


def test_cumulative_momentum_none_is_fine():
    model, opt, batch = _setup(momentum=None)
    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt)
    assert report.ok, str(report)
    # the first cumulative update replaces the stats entirely: fraction 1/num_batches_tracked = 1
    assert report["stem.1"].data["observed_fraction"] == pytest.approx(1.0, abs=1e-3)


def test_nan_input_is_nonfinite_and_restored():
    model, opt, (x, y) = _setup()
    x = x.clone()
    x[0, 0, 0, 0] = float("nan")
    before = full_state(model, opt)
    report = probe(model, train_step_fn(model, opt, (x, y)), optimizer=opt)
    assert report.verdicts()["stem.1"] == "nonfinite"
    assert_same_state(before, full_state(model, opt))
    assert all(torch.isfinite(b).all() for b in model.buffers() if b.is_floating_point())


def test_momentum_zero_is_frozen_no_update():
    model, opt, batch = _setup()
    model.layer1.bn1.momentum = 0.0  # called in train mode, never moves
    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt)
    assert report.verdicts()["layer1.bn1"] == "frozen-no-update"
    assert report.verdicts()["layer1.bn2"] == "updated"


def test_unused_branch_is_frozen_not_called_unless_expected():
    model, opt, (x, y) = _setup()
    model.aux = nn.Sequential(nn.Linear(16, 4), nn.BatchNorm1d(4))  # head never used in forward
    opt = torch.optim.Adam(model.parameters())
    report = probe(model, train_step_fn(model, opt, (x, y)), optimizer=opt)
    assert report.verdicts()["aux.1"] == "frozen-not-called"
    report = probe(model, train_step_fn(model, opt, (x, y)), optimizer=opt, expect_frozen=["aux"])
    assert report.verdicts()["aux.1"] == "frozen-expected"
    assert report.ok
    with pytest.raises(ValueError, match="nope"):
        probe(model, train_step_fn(model, opt, (x, y)), expect_frozen=["nope"])


def test_freeze_bn_backbone_is_expected_and_holds_under_train():
    model, opt, batch = _setup()
    freeze_bn(model.layer1)
    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt)  # step calls model.train()
    v = report.verdicts()
    assert v["layer1.bn1"] == v["layer1.bn2"] == "frozen-expected"
    assert v["layer2.bn1"] == "updated"
    assert report.ok


def test_requires_grad_false_is_not_a_freeze():
    model, opt, batch = _setup()
    for p in model.layer1.parameters():
        p.requires_grad_(False)  # the common belief: this freezes BN
    report = probe(model, train_step_fn(model, opt, batch), optimizer=opt,
                   expect_frozen=[model.layer1])
    assert report.verdicts()["layer1.bn1"] == "updated-despite-freeze"
    assert not report.ok


def test_step_that_raises_is_restored_and_reraised():
    model, opt, (x, y) = _setup()
    train_step_fn(model, opt, (x, y))()  # optimizer has state now
    before = full_state(model, opt)

    def step():
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        model.stem[1].running_mean = torch.full((8,), 3.0)  # re-assigned buffer
        raise RuntimeError("loss exploded")

    with pytest.raises(RuntimeError, match="loss exploded"):
        probe(model, step, optimizer=opt)
    assert_same_state(before, full_state(model, opt))


def test_bad_input_is_a_clear_error():
    with pytest.raises(TypeError, match="nn.Module"):
        probe("model.pt", lambda: None)
    with pytest.raises(TypeError, match="callable"):
        probe(nn.BatchNorm1d(2), None)


def test_report_to_dict_is_json():
    import json

    model, opt, batch = _setup()
    d = json.loads(probe(model, train_step_fn(model, opt, batch), optimizer=opt).to_json())
    assert d["ok"] is True and d["kind"] == "probe" and d["framework"] == "torch"
    assert {"name", "verdict", "detail", "calls", "observed_fraction"} <= set(d["layers"][0])
    assert not math.isnan(d["layers"][0]["observed_fraction"])


def test_extra_state_scheduler_is_restored():
    model, opt, batch = _setup(opt="sgd")
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    inner = train_step_fn(model, opt, batch)

    def step():
        inner()
        sched.step()

    before = (sched.state_dict(), full_state(model, opt))
    assert probe(model, step, optimizer=opt, extra_state=[sched]).ok
    assert sched.state_dict() == before[0]
    assert_same_state(before[1], full_state(model, opt))
    with pytest.raises(TypeError, match="extra_state"):
        probe(model, step, optimizer=opt, extra_state=[object()])
