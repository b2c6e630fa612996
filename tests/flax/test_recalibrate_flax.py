"""bnguard.flax.recalibrate on real Flax linen models (JAX on CPU)."""
from __future__ import annotations

import numpy as np
import pytest

jax = pytest.importorskip("jax")
nn = pytest.importorskip("flax.linen")
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

from bnguard.flax import recalibrate  # noqa: E402


class Block(nn.Module):
    @nn.compact
    def __call__(self, x, train):
        x = nn.Dense(4)(x)
        x = nn.Dropout(0.5, deterministic=not train)(x)
        return nn.BatchNorm(use_running_average=not train, name="bn")(x)


class Net(nn.Module):
    @nn.compact
    def __call__(self, x, train=False, side=False):
        x = nn.BatchNorm(use_running_average=not train, name="in_bn")(x)
        x = Block(name="block")(x, train)
        if side:  # a branch the inference call never takes
            x = nn.BatchNorm(use_running_average=not train, name="side_bn")(x)
        return nn.Dense(1)(x)


def _batches(offset, n=5, size=32):
    rng = np.random.default_rng(0)
    return [(rng.normal(size=(size, 3)) * 2 + offset + i).astype(np.float32) for i in range(n)]


def _reference(variables, batches):
    """float64 numpy: in_bn normalises each batch by its own statistics, Dropout is off."""
    p = variables["params"]
    h = []
    for x in batches:
        x = x.astype(np.float64)
        y = (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) * np.asarray(p["in_bn"]["scale"]) \
            + np.asarray(p["in_bn"]["bias"])
        h.append(y @ np.asarray(p["block"]["Dense_0"]["kernel"], np.float64)
                 + np.asarray(p["block"]["Dense_0"]["bias"]))
    x_all, h_all = np.concatenate(batches).astype(np.float64), np.concatenate(h)
    return {"in_bn": (x_all.mean(0), x_all.var(0)), "bn": (h_all.mean(0), h_all.var(0))}


def _rel(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - b) / np.maximum(np.abs(b), 1e-3)))


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_exact_stats_inputs_untouched_and_jit_caches_not_polluted(offset):
    model = Net()
    batches = _batches(offset)
    variables = model.init(jax.random.key(0), batches[0], side=True)
    before = jax.tree_util.tree_map(np.array, variables)
    infer = jax.jit(lambda v, x: model.apply(v, x, train=False))
    plain_out = np.asarray(infer(variables, batches[0]))

    stats, report = recalibrate(infer, variables, batches, return_report=True, progress=False)
    ref = _reference(variables, batches)
    assert _rel(stats["in_bn"]["mean"], ref["in_bn"][0]) < 1e-6
    assert _rel(stats["in_bn"]["var"], ref["in_bn"][1]) < 1e-6
    if not offset:  # at 1000 the float32 forward itself differs from float64 by ~1e-5
        assert _rel(stats["block"]["bn"]["var"], ref["bn"][1]) < 1e-6
    assert report.verdicts() == {"in_bn": "recalibrated", "block/bn": "recalibrated",
                                 "side_bn": "not-reached"}
    assert not report.ok  # the unreached layer is reported
    np.testing.assert_array_equal(stats["side_bn"]["var"], before["batch_stats"]["side_bn"]["var"])
    # nothing mutated, and the user's jitted function still uses the running statistics
    leaves = zip(jax.tree_util.tree_leaves(before), jax.tree_util.tree_leaves(variables))
    assert all(np.array_equal(a, b) for a, b in leaves)
    np.testing.assert_array_equal(np.asarray(infer(variables, batches[0])), plain_out)


def test_discarded_batch_stats_bug_is_repaired():
    """A real failure: a jitted train step that drops the returned batch_stats trains the
    weights while the statistics stay 0/1, so inference is wrong. Recalibration fixes it."""
    model = Net()
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(256, 3)) * 3 + 5).astype(np.float32)
    y = ((x[:, :1] - 5) * 2 + x[:, 1:2]).astype(np.float32)
    variables = model.init(jax.random.key(1), x[:8])
    params, batch_stats = variables["params"], variables["batch_stats"]
    tx = optax.sgd(0.01)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, batch_stats, opt_state, xb, yb, key):
        def loss_fn(p):
            out, updates = model.apply(  # noqa: BN402 (the bug under test)
                {"params": p, "batch_stats": batch_stats}, xb, train=True,
                mutable=["batch_stats"], rngs={"dropout": key})
            return jnp.mean((out - yb) ** 2), updates
        (loss, _updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        upd, opt_state = tx.update(grads, opt_state)
        return optax.apply_updates(params, upd), opt_state  # the bug: _updates are dropped

    key = jax.random.key(2)
    for i in range(80):
        key, sub = jax.random.split(key)
        idx = rng.integers(0, 256, 32)
        params, opt_state = step(params, batch_stats, opt_state, x[idx], y[idx], sub)
    trained = {"params": params, "batch_stats": batch_stats}
    np.testing.assert_array_equal(batch_stats["in_bn"]["mean"], 0.0)  # the freeze happened

    def mse(v):
        return float(jnp.mean((model.apply(v, x, train=False) - y) ** 2))

    stale = mse(trained)
    new_stats = recalibrate(lambda v, xb: model.apply(v, xb, train=False), trained,
                            [x[i:i + 64] for i in range(0, 256, 64)], progress=False)
    repaired = mse({"params": params, "batch_stats": new_stats})
    assert stale > 2 * repaired, (stale, repaired)


def test_bad_input():
    model = nn.Dense(2)
    v = model.init(jax.random.key(0), jnp.ones((1, 3)))
    with pytest.raises(ValueError, match="batch_stats"):
        recalibrate(model.apply, v, [np.ones((2, 3), np.float32)], progress=False)
    net = Net()
    v = net.init(jax.random.key(0), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="no batches"):
        recalibrate(lambda v, x: net.apply(v, x), v, [], progress=False)
