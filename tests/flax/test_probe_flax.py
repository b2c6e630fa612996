"""bnguard.flax.probe on a real Flax linen model and real jitted training steps."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

jax = pytest.importorskip("jax")
flax = pytest.importorskip("flax")
optax = pytest.importorskip("optax")
import flax.linen as nn  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from flax.training import train_state  # noqa: E402

from bnguard.flax import probe  # noqa: E402


class Block(nn.Module):
    momentum: float = 0.9

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.Dense(8)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.momentum)(x)
        return nn.relu(x)


class Net(nn.Module):
    momentum: float = 0.9

    @nn.compact
    def __call__(self, x, train: bool = True):
        x = Block(self.momentum)(x, train)
        x = Block(self.momentum)(x, train)
        return nn.Dense(1)(x)


class TrainState(train_state.TrainState):
    batch_stats: Any


LAYERS = {"Block_0/BatchNorm_0", "Block_1/BatchNorm_0"}


def make_state(momentum=0.9):
    model = Net(momentum)
    x = jnp.ones((4, 6))
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    return TrainState.create(apply_fn=model.apply, params=variables["params"],
                             batch_stats=variables["batch_stats"], tx=optax.sgd(0.01))


def batch(seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(16, 6)) * 3 + 2).astype("float32")
    return jnp.asarray(x), jnp.asarray(x.sum(1, keepdims=True))


def make_step(*, keep_stats=True, train=True):
    @jax.jit
    def step(state, b):
        x, y = b

        def loss_fn(params):
            if train:
                pred, updates = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                               x, train=True, mutable=["batch_stats"])
            else:
                pred = state.apply_fn({"params": params, "batch_stats": state.batch_stats},
                                      x, train=False)
                updates = {"batch_stats": state.batch_stats}
            return jnp.mean((pred - y) ** 2), updates

        (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
        state = state.apply_gradients(grads=grads)
        if keep_stats:
            state = state.replace(batch_stats=updates["batch_stats"])
        return state, {"loss": loss}

    return step


def test_correct_step_is_updated():
    state = make_state()
    report = probe(make_step(), state, batch())
    assert report.verdicts() == {n: "updated" for n in LAYERS}
    assert report["Block_0/BatchNorm_0"].data["observed_fraction"] == pytest.approx(0.1, abs=1e-3)
    assert report.ok


def test_step_that_drops_batch_stats_is_dropped():
    state = make_state()
    report = probe(make_step(keep_stats=False), state, batch())  # the classic forgotten .replace
    assert report.verdicts() == {n: "dropped" for n in LAYERS}
    assert "input's batch_stats object" in report["Block_0/BatchNorm_0"].detail
    assert not report.ok


def test_eval_mode_step_is_frozen():
    report = probe(make_step(train=False), make_state(), batch())
    assert report.verdicts() == {n: "frozen" for n in LAYERS}
    assert "use_running_average=True" in report["Block_1/BatchNorm_0"].detail


def test_untraced_probe_still_tells_updated_from_frozen():
    assert set(probe(make_step(), make_state(), batch(), trace=False).verdicts().values()) == {"updated"}
    assert set(probe(make_step(keep_stats=False), make_state(), batch(),
                     trace=False).verdicts().values()) == {"frozen"}


def test_step_returning_no_stats_is_dropped():
    step = make_step()

    def params_only(state, b):
        new_state, _ = step(state, b)
        return {"params": new_state.params}

    report = probe(params_only, make_state(), batch())
    assert set(report.verdicts().values()) == {"dropped"}


def test_torch_convention_momentum_is_suspicious():
    report = probe(make_step(), make_state(momentum=0.1), batch())
    assert set(report.verdicts().values()) == {"suspicious-momentum"}


@pytest.mark.parametrize("trace", [True, False])
def test_input_state_untouched_with_donation(trace):
    state = make_state()
    before = jax.tree_util.tree_map(np.array, state.batch_stats)
    donating = jax.jit(make_step().__wrapped__, donate_argnums=0)
    assert probe(donating, state, batch(), trace=trace).ok
    after = jax.tree_util.tree_map(np.array, state.batch_stats)  # still readable, unchanged
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(np.array_equal, before, after))


def test_bad_input():
    with pytest.raises(ValueError, match="batch_stats"):
        probe(make_step(), {"params": {}}, batch())
    with pytest.raises(TypeError, match="callable"):
        probe(None, make_state(), batch())
