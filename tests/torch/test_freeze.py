"""freeze_bn holds through model.train(); requires_grad_(False) does not; unfreeze_bn is exact."""
from __future__ import annotations

import copy
import io

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from bnguard.torch import freeze_bn, probe, unfreeze_bn  # noqa: E402
from bnguard.torch.freeze import is_frozen_by_bnguard  # noqa: E402

from _probe_models import TinyResNet, make_batch, train_step_fn  # noqa: E402
from _state_compare import assert_same_state, full_state  # noqa: E402


def _run_epoch(model, opt, steps=3):
    for i in range(steps):
        train_step_fn(model, opt, make_batch(seed=i))()  # calls model.train() every step


def _bn_stats(module):
    return module.running_mean.clone(), module.running_var.clone()


def test_freeze_holds_after_model_train():
    torch.manual_seed(0)
    model = TinyResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    frozen = freeze_bn(model.layer1)
    assert set(frozen) == {"bn1", "bn2"}
    stats = _bn_stats(model.layer1.bn1)
    weight = model.layer1.bn1.weight.detach().clone()
    _run_epoch(model, opt)
    assert torch.equal(_bn_stats(model.layer1.bn1)[0], stats[0])
    assert torch.equal(_bn_stats(model.layer1.bn1)[1], stats[1])
    assert torch.equal(model.layer1.bn1.weight, weight)  # affine frozen by default
    assert not torch.equal(_bn_stats(model.layer2.bn1)[0], torch.zeros(16))  # others train
    assert int(model.layer1.bn1.num_batches_tracked) == 0


def test_requires_grad_false_does_not_freeze_statistics():
    torch.manual_seed(0)
    model = TinyResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model.layer1.bn1.requires_grad_(False)
    model.layer1.bn1.eval()  # and eval(): undone by the next model.train()
    stats = _bn_stats(model.layer1.bn1)
    _run_epoch(model, opt)
    assert not torch.equal(_bn_stats(model.layer1.bn1)[0], stats[0])  # drifted anyway


def test_freeze_affine_false_keeps_training_weight_not_stats():
    torch.manual_seed(0)
    model = TinyResNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    freeze_bn(model, freeze_affine=False)
    weight = model.stem[1].weight.detach().clone()
    stats = _bn_stats(model.stem[1])
    _run_epoch(model, opt)
    assert not torch.equal(model.stem[1].weight, weight)
    assert torch.equal(_bn_stats(model.stem[1])[0], stats[0])


def test_unfreeze_restores_exactly():
    torch.manual_seed(0)
    model = TinyResNet()
    model.head_bn.bias.requires_grad_(False)  # a user choice that must survive the round trip
    model.train()
    before = full_state(model)
    hooks_before = {n: dict(m._forward_pre_hooks) for n, m in model.named_modules()}
    freeze_bn(model)
    freeze_bn(model)  # idempotent
    assert all(is_frozen_by_bnguard(m) for m in [model.stem[1], model.head_bn])
    assert not model.stem[1].training and not model.stem[1].weight.requires_grad
    unfreeze_bn(model)
    assert_same_state(before, full_state(model))
    assert {n: dict(m._forward_pre_hooks) for n, m in model.named_modules()} == hooks_before
    assert not model.head_bn.bias.requires_grad and model.head_bn.weight.requires_grad
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    report = probe(model, train_step_fn(model, opt, make_batch()), optimizer=opt)
    assert set(report.verdicts().values()) == {"updated"}


def test_freeze_survives_deepcopy_and_save_load():
    torch.manual_seed(0)
    model = TinyResNet()
    freeze_bn(model)
    for clone in (copy.deepcopy(model), _save_load(model)):
        clone.train()
        stats = _bn_stats(clone.stem[1])
        clone(make_batch()[0])
        assert torch.equal(_bn_stats(clone.stem[1])[0], stats[0])
        unfreeze_bn(clone)
        clone.train()
        clone(make_batch()[0])
        assert not torch.equal(_bn_stats(clone.stem[1])[0], stats[0])


def _save_load(model):
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)  # a model we just saved ourselves


def test_freeze_list_of_modules_and_bad_input():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 4), nn.BatchNorm1d(4))
    freeze_bn([model[1]])
    assert is_frozen_by_bnguard(model[1]) and not is_frozen_by_bnguard(model[3])
    with pytest.raises(TypeError, match="torch.nn.Module"):
        freeze_bn(["not a module"])
