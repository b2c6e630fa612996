"""bnguard.keras.probe and BNGuardCallback on real Keras 3 models (TensorFlow backend in-process)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

from bnguard.keras import BNGuardCallback, BNGuardWarning, probe  # noqa: E402
from bnguard.result import BNProblem  # noqa: E402


def make_model(momentum=0.99, name="net"):
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    h = keras.layers.Dense(8)(inp)
    h = keras.layers.BatchNormalization(momentum=momentum, name="bn1")(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Dense(8)(h)
    h = keras.layers.BatchNormalization(momentum=momentum, name="bn2")(h)
    return keras.Model(inp, keras.layers.Dense(1)(h), name=name)


def data(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=(n, 6)) * 3 + 2).astype("float32")
    return x, x.sum(1, keepdims=True)


def all_values(model):
    vals = [v.numpy().copy() for v in model.variables]
    if model.optimizer is not None and model.optimizer.built:
        vals += [v.numpy().copy() for v in model.optimizer.variables]
    return vals


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert x.tobytes() == y.tobytes()


def compiled(momentum=0.99):
    model = make_model(momentum)
    model.compile(optimizer="adam", loss="mse")
    x, y = data()
    model.train_on_batch(x, y)  # optimizer built, moving stats and iterations non-trivial
    return model, x, y


def test_train_on_batch_is_updated_and_everything_restored():
    model, x, y = compiled()
    before = all_values(model)
    report = probe(model, lambda: model.train_on_batch(x, y))
    assert report.verdicts() == {"bn1": "updated", "bn2": "updated"}
    assert report["bn1"].data["observed_fraction"] == pytest.approx(0.01, abs=1e-4)
    assert_same(before, all_values(model))


def custom_step(model, x, y, training):
    opt = keras.optimizers.SGD(0.01)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((model(x, training=training) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply(grads, model.trainable_variables)
        return loss

    return step, opt


def test_custom_loop_with_training_false_is_frozen_eval_mode():
    model, x, y = compiled()
    step, opt = custom_step(model, x, y, training=False)  # the bug
    step()  # already traced: the probe still sees the calls
    before = all_values(model) + [v.numpy().copy() for v in opt.variables]
    report = probe(model, step, optimizer=opt)
    assert set(report.verdicts().values()) == {"frozen-eval-mode"}
    assert_same(before, all_values(model) + [v.numpy().copy() for v in opt.variables])
    good, _ = custom_step(model, x, y, training=True)
    assert probe(model, good).ok


def test_trainable_false_is_frozen_but_declared():
    model, x, y = compiled()
    model.get_layer("bn1").trainable = False  # fine-tuning freeze, documented by Keras
    model.compile(optimizer="adam", loss="mse")
    report = probe(model, lambda: model.train_on_batch(x, y))
    assert report.verdicts() == {"bn1": "frozen-expected", "bn2": "updated"}
    assert "trainable=False" in report["bn1"].detail
    assert report.ok


def test_validation_in_training_mode_is_contaminated():
    model, x, y = compiled()
    xv, _ = data(seed=3)
    report = probe(model, lambda: model.train_on_batch(x, y),
                   eval_step=lambda: model(xv, training=True))
    assert set(report.verdicts().values()) == {"contaminated"}
    report = probe(model, lambda: model.train_on_batch(x, y),
                   eval_step=lambda: model.predict(xv, verbose=0))
    assert report.ok


def test_shared_bn_is_updated_multiple_times():
    keras.utils.set_random_seed(0)
    bn = keras.layers.BatchNormalization(name="shared_bn")
    a, b = keras.Input((6,)), keras.Input((6,))
    dense = keras.layers.Dense(4)
    out = keras.layers.Subtract()([bn(dense(a)), bn(dense(b))])
    model = keras.Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse")
    x, _ = data()
    report = probe(model, lambda: model.train_on_batch([x, x[::-1] + 1], np.zeros((32, 4))))
    assert report.verdicts() == {"shared_bn": "updated-multiple-times"}


def test_torch_convention_momentum_is_suspicious():
    model, x, y = compiled(momentum=0.1)  # PyTorch's 0.1 copied into Keras
    report = probe(model, lambda: model.train_on_batch(x, y))
    assert set(report.verdicts().values()) == {"suspicious-momentum"}
    assert report["bn2"].data["observed_fraction"] == pytest.approx(0.9, abs=1e-3)


def test_nan_input_is_nonfinite_and_restored():
    model, x, y = compiled()
    before = all_values(model)
    bad = x.copy()
    bad[0, 0] = np.nan
    report = probe(model, lambda: model.train_on_batch(bad, y))
    assert report.verdicts()["bn1"] == "nonfinite"
    assert_same(before, all_values(model))


def test_step_raising_restores_and_reraises():
    model, x, y = compiled()
    before = all_values(model)

    def step():
        model.train_on_batch(x, y)
        raise RuntimeError("data loader died")

    with pytest.raises(RuntimeError, match="data loader died"):
        probe(model, step)
    assert_same(before, all_values(model))
    assert type(model.get_layer("bn1")) is keras.layers.BatchNormalization


def test_bad_input():
    with pytest.raises(TypeError, match="Keras model"):
        probe("model.keras", lambda: None)


# --- BNGuardCallback -----------------------------------------------------------------------------

class EvalModeTrainStep(keras.Model):
    """A custom train_step that calls the model with training=False (a frozen-BN bug)."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            loss = keras.ops.mean((self(x, training=False) - y) ** 2)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        return {"loss": loss}


class TrainModeTestStep(keras.Model):
    def test_step(self, data):
        x, y = data
        return {"loss": keras.ops.mean((self(x, training=True) - y) ** 2)}


def _subclassed(cls):
    base = make_model()
    return cls(base.inputs, base.outputs)


def test_callback_quiet_on_healthy_fit():
    model = make_model()
    model.compile(optimizer="adam", loss="mse")
    cb = BNGuardCallback(on_problem="raise")
    x, y = data(128)
    model.fit(x, y, batch_size=32, epochs=1, validation_data=data(32, 1), verbose=0, callbacks=[cb])
    assert cb.report.verdicts() == {"bn1": "updated", "bn2": "updated"}


def test_callback_warns_on_eval_mode_train_step():
    model = _subclassed(EvalModeTrainStep)
    model.compile(optimizer="adam", loss="mse")
    cb = BNGuardCallback(on_problem="warn")
    x, y = data(128)
    with pytest.warns(BNGuardWarning, match="frozen-no-update"):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[cb])
    assert set(cb.report.verdicts().values()) == {"frozen-no-update"}


def test_callback_stop_ends_training_after_first_batch():
    model = _subclassed(EvalModeTrainStep)
    model.compile(optimizer="adam", loss="mse")
    cb = BNGuardCallback(on_problem="stop")
    x, y = data(256)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BNGuardWarning)
        history = model.fit(x, y, batch_size=32, epochs=5, verbose=0, callbacks=[cb])
    assert len(history.history["loss"]) == 1  # stopped in the first epoch


def test_callback_raise_on_contaminating_validation():
    model = _subclassed(TrainModeTestStep)
    model.compile(optimizer="adam", loss="mse")
    cb = BNGuardCallback(on_problem="raise")
    x, y = data(64)
    with pytest.raises(BNProblem, match="contaminated"):
        model.fit(x, y, batch_size=32, epochs=1, validation_data=data(32, 1), verbose=0,
                  callbacks=[cb])


def test_callback_trainable_false_is_expected_and_bad_option():
    model = make_model()
    model.get_layer("bn2").trainable = False
    model.compile(optimizer="adam", loss="mse")
    cb = BNGuardCallback(on_problem="raise")
    x, y = data(64)
    model.fit(x, y, batch_size=64, epochs=1, verbose=0, callbacks=[cb])  # one batch: epoch end
    assert cb.report.verdicts() == {"bn1": "updated", "bn2": "frozen-expected"}
    with pytest.raises(ValueError, match="on_problem"):
        BNGuardCallback(on_problem="explode")


def test_compiled_run_judges_from_before_and_after_only():
    model, x, y = compiled()
    report = probe(model, lambda: model.train_on_batch(x, y), eager=False)
    assert report.verdicts() == {"bn1": "updated", "bn2": "updated"}
    step, opt = custom_step(model, x, y, training=False)
    step()
    report = probe(model, step, optimizer=opt, eager=False)
    assert report.verdicts() == {"bn1": "frozen-no-update", "bn2": "frozen-no-update"}
    assert "compiled" in report["bn1"].detail
