"""Keras 3 BN monitoring: real fit and custom-loop training with freezes injected mid-run."""
import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from bnguard.keras import BNGuardCallback  # noqa: E402
from bnguard.report.log import read_log  # noqa: E402


def BNMonitorCallback(**kw):
    return BNGuardCallback(on_problem="warn", **kw)


def model_with_bn():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(12)(inp)
    h = keras.layers.BatchNormalization(name="bn1")(h)
    h = keras.layers.ReLU()(h)
    out = keras.layers.Dense(1)(h)
    return keras.Model(inp, out)


def data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 6)) * 3 + 2).astype("float32")
    return x, x.sum(1, keepdims=True)


def test_fit_healthy_logs_and_no_alerts(tmp_path):
    model = model_with_bn()
    model.compile(optimizer="sgd", loss="mse")
    cb = BNMonitorCallback(logdir=str(tmp_path), every=4, on_alert="record")
    x, y = data()
    model.fit(x, y, batch_size=32, epochs=2, validation_data=data(64, 1), verbose=0, callbacks=[cb])
    cb.close()
    assert cb.alerts == []
    log = read_log(str(tmp_path))
    assert log.layers() == ["bn1"]
    assert sorted(r["step"] for r in log.stats) == [0, 4, 8, 12, 16]
    assert all(r["mean_delta"] > 0 for r in log.stats if r["step"] > 0)


def custom_loop(model, cb, steps, *, freeze_from=None, eval_in_train_mode_at=None):
    opt = keras.optimizers.SGD(0.01)
    x, y = data()
    callbacks = keras.callbacks.CallbackList([cb], model=model)
    callbacks.on_train_begin()
    for step in range(steps):
        if eval_in_train_mode_at == step - 1:
            callbacks.on_test_begin()
            model(x[:64], training=True)  # the bug: validation run in training mode
            callbacks.on_test_end()
        xb, yb = x[(step * 32) % 256:][:32], y[(step * 32) % 256:][:32]
        training = not (freeze_from is not None and step >= freeze_from)
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((model(xb, training=training) - yb) ** 2)
        callbacks.on_train_batch_begin(step)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        callbacks.on_train_batch_end(step)
    callbacks.on_train_end()


def test_custom_loop_switching_to_training_false_is_caught(tmp_path):
    model = model_with_bn()
    cb = BNMonitorCallback(logdir=str(tmp_path), every=5, on_alert="record")
    before = model.get_layer("bn1").moving_mean.numpy().copy()
    custom_loop(model, cb, 20, freeze_from=7)
    cb.close()
    frozen = [(a.layer, a.step) for a in cb.alerts if a.kind == "frozen"]
    assert frozen == [("bn1", 15)]  # the first window (11..15) wholly after the switch at step 8
    assert not np.array_equal(before, model.get_layer("bn1").moving_mean.numpy())  # it did train before
    log = read_log(str(tmp_path))
    assert [r["mean_delta"] for r in log.stats if r["step"] >= 15] == [0.0, 0.0]


def test_validation_in_training_mode_is_contamination():
    model = model_with_bn()
    cb = BNMonitorCallback(every=100, on_alert="record")
    custom_loop(model, cb, 6, eval_in_train_mode_at=3)
    assert [(a.kind, a.layer, a.step) for a in cb.alerts] == [("contaminated", "bn1", 4)]
    assert cb.report is not None and cb.report.ok  # the first batch itself was healthy


def test_frozen_backbone_by_design_is_silent():
    model = model_with_bn()
    model.get_layer("bn1").trainable = False  # transfer learning: inference-mode BN on purpose
    model.compile(optimizer="sgd", loss="mse")
    cb = BNMonitorCallback(every=2, on_alert="record")
    x, y = data()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    assert cb.alerts == []
    assert cb.report.verdicts() == {"bn1": "frozen-expected"}
