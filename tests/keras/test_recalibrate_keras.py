"""bnguard.keras.recalibrate on real Keras 3 models (TensorFlow backend, CPU)."""
from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from bnguard.keras import recalibrate  # noqa: E402


def _model(eps=1e-3):
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.BatchNormalization(epsilon=eps, name="in_bn")(inp)
    h = keras.layers.Dense(5, name="dense")(h)
    h = keras.layers.Dropout(0.5)(h)
    h = keras.layers.BatchNormalization(epsilon=eps, name="bn2")(h)
    out = keras.layers.Dense(1, name="head")(h)
    return keras.Model(inp, out)


def _batches(offset=0.0, n=6, size=32, seed=0):
    rng = np.random.default_rng(seed)
    # non-iid: every batch has its own shift
    return [((rng.normal(size=(size, 6)) * 2 + offset + i).astype("float32"),
             np.zeros((size, 1), "float32")) for i in range(n)]


def _reference(model, batches):
    """float64 numpy: in_bn normalises each batch with its own statistics, Dropout is off."""
    in_bn, dense = model.get_layer("in_bn"), model.get_layer("dense")
    g, b = (np.asarray(v, np.float64) for v in (in_bn.gamma.numpy(), in_bn.beta.numpy()))
    w, c = (np.asarray(v, np.float64) for v in dense.get_weights())
    xs = [x.astype(np.float64) for x, _ in batches]
    h = [((x - x.mean(0)) / np.sqrt(x.var(0) + in_bn.epsilon) * g + b) @ w + c for x in xs]
    x_all, h_all = np.concatenate(xs), np.concatenate(h)
    return {"in_bn": (x_all.mean(0), x_all.var(0)), "bn2": (h_all.mean(0), h_all.var(0))}


def _stats(model, name):
    layer = model.get_layer(name)
    return (np.asarray(layer.moving_mean.numpy(), np.float64),
            np.asarray(layer.moving_variance.numpy(), np.float64))


@pytest.mark.parametrize("offset", [0.0, 1000.0])
def test_population_stats_are_exact_with_dropout_off(offset):
    model = _model()
    batches = _batches(offset)
    ref = _reference(model, batches)
    report = recalibrate(model, batches, progress=False)
    assert report.ok and report.verdicts() == {"in_bn": "recalibrated", "bn2": "recalibrated"}
    for name, (mean, var) in ref.items():
        got_mean, got_var = _stats(model, name)
        scale = np.maximum(np.abs(mean), np.sqrt(var))
        # At offset 1000 the float32 forward itself (in_bn's output: x - mean rounded at
        # ulp(1000) = 6e-5) differs from this float64 emulation by ~1e-5, before bn2 sees it.
        tol = 1e-4 if (name == "bn2" and offset) else 1e-6
        assert (np.abs(got_mean - mean) / scale).max() < tol, name
        assert (np.abs(got_var / var - 1)).max() < tol, name
    # the batch-average estimator misses the between-batch variance of these non-iid batches
    other = _model()
    recalibrate(other, batches, estimator="batch-average", progress=False)
    assert np.abs(_stats(other, "in_bn")[1] / ref["in_bn"][1] - 1).max() > 0.1


def test_atomic_on_error_and_frozen_layers_are_recalibrated():
    model = _model()
    model.get_layer("bn2").trainable = False  # transfer-learning freeze: still recalibrated
    before = [v.numpy().copy() for v in model.variables]

    def broken():
        yield from _batches()[:3]
        raise RuntimeError("loader died")

    with pytest.raises(RuntimeError, match="loader died"):
        recalibrate(model, broken(), progress=False)
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables))
    assert "call" not in model.get_layer("in_bn").__dict__  # the original call is back
    with pytest.raises(ValueError, match="no batches"):
        recalibrate(model, [], progress=False)
    with pytest.raises(ValueError, match="no Keras BatchNormalization"):
        recalibrate(keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]), [np.zeros((2, 3))])

    report = recalibrate(model, _batches(), progress=False)
    assert report["bn2"].verdict == "recalibrated"
    assert not np.allclose(_stats(model, "bn2")[1], 1.0)
    assert model.get_layer("bn2").trainable is False


def test_stale_statistics_after_short_training_are_repaired():
    """A real failure: a few fit() steps with the default momentum 0.99 leave the moving
    statistics near their 0/1 initial values, so evaluate() disagrees with training."""
    import tensorflow as tf

    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(512, 4)) * 3 + 5).astype("float32")
    y = ((x[:, :1] - 5) * 2 + x[:, 1:2]).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16),
                              keras.layers.BatchNormalization(), keras.layers.ReLU(),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    model.fit(x, y, batch_size=64, epochs=3, verbose=0)
    learnt = float(np.mean((model(x, training=True).numpy() - y) ** 2))  # batch statistics
    stale = float(model.evaluate(x, y, verbose=0))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
    report = recalibrate(model, dataset, progress=False)
    repaired = float(model.evaluate(x, y, verbose=0))
    assert report.ok and report[0].data["max_mean_shift_std"] > 0.5
    assert stale > 2 * learnt and repaired <= 1.05 * learnt, (learnt, stale, repaired)
