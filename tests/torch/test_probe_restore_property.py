"""Property: after any probe, passing or raising, model and optimizer state are bit-identical."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

from bnguard.torch import probe  # noqa: E402

from _probe_models import TinyResNet, make_batch  # noqa: E402
from _state_compare import assert_same_state, full_state  # noqa: E402

OPTIMIZERS = {
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
    "sgd-momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=1e-4),
    "adam": lambda p: torch.optim.Adam(p, lr=1e-2),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-2),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-3, momentum=0.5),
}
RAISE_AT = [None, "forward", "backward", "optimizer", "after-mutation"]


class Boom(Exception):
    pass


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    opt_name=st.sampled_from(sorted(OPTIMIZERS)),
    warm_steps=st.integers(0, 2),
    momentum=st.sampled_from([0.1, 0.99, None]),
    train_mode=st.booleans(),
    raise_at=st.sampled_from(RAISE_AT),
    with_eval=st.booleans(),
    seed=st.integers(0, 3),
)
def test_probe_leaves_state_bit_identical(opt_name, warm_steps, momentum, train_mode, raise_at,
                                          with_eval, seed):
    torch.manual_seed(seed)
    model = TinyResNet(momentum=momentum)
    opt = OPTIMIZERS[opt_name](model.parameters())
    x, y = make_batch(seed)
    for _ in range(warm_steps):  # optimizer state (momentum buffers, Adam step counters) exists
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    model.train(train_mode)
    before = full_state(model, opt)

    def step():
        opt.zero_grad()
        out = model(x * torch.rand(1).item() + torch.randn_like(x) * 0.1)  # consumes RNG
        if raise_at == "forward":
            raise Boom
        nn.functional.cross_entropy(out, y).backward()
        if raise_at == "backward":
            raise Boom
        opt.step()
        for g in opt.param_groups:
            g["lr"] *= 0.5  # a scheduler-like change to hyper-parameters
        if raise_at == "optimizer":
            raise Boom
        model.layer1.bn1.running_var = torch.ones(8)  # buffer object replaced
        model.head_bn.weight.requires_grad_(False)
        model.eval()
        if raise_at == "after-mutation":
            raise Boom

    def eval_step():
        with torch.no_grad():
            model(x)

    if raise_at is None:
        probe(model, step, optimizer=opt, eval_step=eval_step if with_eval else None)
    else:
        with pytest.raises(Boom):
            probe(model, step, optimizer=opt, eval_step=eval_step if with_eval else None)
    assert_same_state(before, full_state(model, opt))
