"""Real checkpoints from really trained small models, built once per session.

Each framework gets a model trained correctly and one trained with the freeze its users hit
(PyTorch in eval mode, Keras custom loop with training=False, TF1 update ops not run, Flax step
that drops batch_stats, an EMA copy whose BN buffers are never copied). The freeze is shown to
happen in memory before the file is written.
"""
from __future__ import annotations

import copy
import os

import numpy as np
import pytest

STEPS = 5


@pytest.fixture(scope="session")
def train_steps() -> int:
    """Optimizer steps every fixture model was trained for."""
    return STEPS


def _data(rng, n=16, d=6):
    return (rng.normal(3.0, 2.0, size=(n, d)).astype("float32"),
            rng.normal(size=(n, 1)).astype("float32"))


# ---------------------------------------------------------------- PyTorch
def _torch_model():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
        torch.nn.Flatten(), torch.nn.Linear(4 * 6 * 6, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 1))


def _torch_train(model, train_mode: bool, steps=STEPS, ema=None):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(1)
    model.train(train_mode)
    for _ in range(steps):
        x = torch.randn(8, 3, 8, 8, generator=g) * 2 + 3
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if ema is not None:  # hand-written EMA over parameters only: BN buffers stay at init
            with torch.no_grad():
                for pe, p in zip(ema.parameters(), model.parameters()):
                    pe.mul_(0.9).add_(p, alpha=0.1)
    return model


class SharedBN:
    """A model applying one BN layer twice per forward (counter = 2 x steps)."""

    @staticmethod
    def build():
        import torch

        class Twice(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(6, 6)
                self.bn = torch.nn.BatchNorm1d(6)

            def forward(self, x):
                return self.bn(self.lin(self.bn(x)))

        return Twice()


@pytest.fixture(scope="session")
def torch_ckpts(tmp_path_factory):
    import torch
    from safetensors.torch import save_file

    out = tmp_path_factory.mktemp("torch")
    good = _torch_train(_torch_model(), train_mode=True)
    frozen = _torch_model()
    ema = copy.deepcopy(frozen)  # noqa: BN306 -- the EMA bug this fixture reproduces on purpose
    _torch_train(frozen, train_mode=False, ema=ema)
    # the freeze really happened in memory
    assert good[1].num_batches_tracked.item() == STEPS and frozen[1].num_batches_tracked.item() == 0
    assert torch.count_nonzero(frozen[1].running_mean) == 0

    shared = SharedBN.build()
    opt = torch.optim.SGD(shared.parameters(), lr=0.01)
    for _ in range(STEPS):
        loss = shared(torch.randn(8, 6) * 2 + 1).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    paths = {}
    torch.save(good.state_dict(), out / "good.pt")
    torch.save(frozen.state_dict(), out / "frozen.pt")
    torch.save(good.state_dict(), out / "good_legacy.pt", _use_new_zipfile_serialization=False)
    torch.save(frozen.state_dict(), out / "frozen_legacy.pth", _use_new_zipfile_serialization=False)
    save_file({k: v.contiguous() for k, v in good.state_dict().items()}, str(out / "good.safetensors"))
    save_file({k: v.contiguous() for k, v in frozen.state_dict().items()}, str(out / "frozen.safetensors"))
    torch.save({"model": good.state_dict(), "ema": ema.state_dict(), "epoch": 3,
                "optimizer": torch.optim.SGD(good.parameters(), lr=0.1).state_dict()}, out / "with_ema.pt")
    torch.save(shared.state_dict(), out / "shared.pt")
    for name in ("good", "frozen", "good_legacy", "shared", "with_ema"):
        paths[name] = str(out / f"{name}.pt")
    paths["frozen_legacy"] = str(out / "frozen_legacy.pth")
    paths["good_st"] = str(out / "good.safetensors")
    paths["frozen_st"] = str(out / "frozen.safetensors")

    # a batch of NaNs (a diverged data pipeline / overflowed half-precision activations) poisons the stats
    nan_model = _torch_model()
    _torch_train(nan_model, train_mode=True, steps=2)
    nan_model.train()
    with torch.no_grad():
        nan_model(torch.full((4, 3, 8, 8), float("nan")))
    torch.save(nan_model.state_dict(), out / "nan.pt")
    paths["nan"] = str(out / "nan.pt")

    # a BN behind inputs that never vary (dead channels): cumulative average of zero variances
    dead = torch.nn.BatchNorm1d(5, momentum=None)
    dead.train()
    for _ in range(3):
        x = torch.zeros(8, 5)
        x[:, 0] = torch.randn(8)
        dead(x)
    torch.save(dead.state_dict(), out / "dead.pt")
    paths["dead"] = str(out / "dead.pt")

    # ONNX exports of the trained model: one in training mode, one after eval()
    lin = torch.nn.Sequential(torch.nn.Linear(6, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    _torch_train_flat(lin)
    x = torch.randn(8, 6)
    torch.onnx.export(lin, (x,), str(out / "train_mode.onnx"), training=torch.onnx.TrainingMode.TRAINING,
                      dynamo=False, do_constant_folding=False)
    lin.eval()
    torch.onnx.export(lin, (x,), str(out / "eval_mode.onnx"), dynamo=False)
    paths["onnx_train"] = str(out / "train_mode.onnx")
    paths["onnx_eval"] = str(out / "eval_mode.onnx")
    return paths


def _torch_train_flat(model):
    import torch

    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    model.train()
    for _ in range(STEPS):
        loss = model(torch.randn(8, 6) * 2 + 3).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


# ---------------------------------------------------------------- Keras 3
@pytest.fixture(scope="session")
def keras_ckpts(tmp_path_factory):
    import keras
    import tensorflow as tf

    out = tmp_path_factory.mktemp("keras")
    rng = np.random.default_rng(0)
    x, y = _data(rng)

    def build():
        keras.utils.set_random_seed(0)
        return keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(8), keras.layers.BatchNormalization(name="bn_a"),
            keras.layers.ReLU(), keras.layers.Dense(4), keras.layers.BatchNormalization(center=False, name="bn_b"),
            keras.layers.Dense(1)])

    good = build()
    good.compile(optimizer="sgd", loss="mse")
    good.fit(x, y, batch_size=8, epochs=1, verbose=0)

    frozen = build()
    opt = keras.optimizers.SGD(0.01)
    for _ in range(STEPS):
        with tf.GradientTape() as tape:
            # the freeze, on purpose: training=False in the training step
            loss = tf.reduce_mean((frozen(x, training=False) - y) ** 2)  # noqa: BN201
        grads = tape.gradient(loss, frozen.trainable_variables)
        opt.apply_gradients(zip(grads, frozen.trainable_variables))
    assert np.all(frozen.get_layer("bn_a").moving_mean.numpy() == 0)
    assert np.any(good.get_layer("bn_a").moving_mean.numpy() != 0)

    paths = {}
    for name, model in (("good", good), ("frozen", frozen)):
        model.save(out / f"{name}.keras")
        model.save_weights(out / f"{name}.weights.h5")
        tf.train.Checkpoint(model=model).write(str(out / f"{name}_tfckpt"))
        paths[name] = str(out / f"{name}.keras")
        paths[f"{name}_weights"] = str(out / f"{name}.weights.h5")
        paths[f"{name}_tf"] = str(out / f"{name}_tfckpt")
        model.export(str(out / f"{name}_savedmodel"), verbose=False)  # variables keyed by position
        paths[f"{name}_savedmodel"] = str(out / f"{name}_savedmodel")
    return paths


# ---------------------------------------------------------------- tf_keras (legacy .h5)
@pytest.fixture(scope="session")
def tf_keras_h5(tmp_path_factory):
    assert os.environ.get("TF_USE_LEGACY_KERAS") == "1"
    import tf_keras

    out = tmp_path_factory.mktemp("tfkeras")
    x, y = _data(np.random.default_rng(1))
    paths = {}
    for name, trainable_stats in (("good", True), ("frozen", False)):
        tf_keras.utils.set_random_seed(0)
        m = tf_keras.Sequential([tf_keras.layers.Dense(8, input_shape=(6,)),
                                 tf_keras.layers.BatchNormalization(name="bn"), tf_keras.layers.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        if trainable_stats:
            m.fit(x, y, batch_size=8, epochs=1, verbose=0)
        else:  # the classic: train_on_batch after set to inference by a custom loop
            import tensorflow as tf

            for _ in range(STEPS):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean((m(x, training=False) - y) ** 2)  # noqa: BN201 -- on purpose
                g = tape.gradient(loss, m.trainable_variables)
                m.optimizer.apply_gradients(zip(g, m.trainable_variables))
        m.save(out / f"{name}.h5")
        paths[name] = str(out / f"{name}.h5")
    return paths


# ---------------------------------------------------------------- TF1 graph + Saver
@pytest.fixture(scope="session")
def tf1_ckpts(tmp_path_factory):
    import tensorflow as tf

    v1 = tf.compat.v1
    out = tmp_path_factory.mktemp("tf1")
    x_np, y_np = _data(np.random.default_rng(2))
    paths = {}
    for name, wired in (("good", True), ("frozen", False)):
        graph = tf.Graph()
        with graph.as_default():
            v1.set_random_seed(0)
            x = v1.placeholder(tf.float32, [None, 6])
            y = v1.placeholder(tf.float32, [None, 1])
            is_training = v1.placeholder(tf.bool, [])
            h = v1.layers.dense(x, 8, name="fc1")
            h = v1.layers.batch_normalization(h, training=is_training, momentum=0.9, name="bn1")
            pred = v1.layers.dense(tf.nn.relu(h), 1, name="fc2")
            loss = tf.reduce_mean((pred - y) ** 2)
            opt = v1.train.GradientDescentOptimizer(0.01)
            step = v1.train.get_or_create_global_step()
            if wired:
                with tf.control_dependencies(v1.get_collection(v1.GraphKeys.UPDATE_OPS)):
                    train_op = opt.minimize(loss, global_step=step)
            else:  # the classic bug: UPDATE_OPS never run
                train_op = opt.minimize(loss, global_step=step)
            saver = v1.train.Saver()
            with v1.Session(graph=graph) as sess:
                sess.run(v1.global_variables_initializer())
                for _ in range(STEPS):
                    sess.run(train_op, {x: x_np, y: y_np, is_training: True})
                moving_mean = next(v for v in v1.global_variables() if v.name == "bn1/moving_mean:0")
                mm = sess.run(moving_mean)
                assert (mm == 0).all() != wired  # the freeze happened (or not)
                paths[name] = saver.save(sess, str(out / name / "model.ckpt"))
    return paths


# ---------------------------------------------------------------- Flax linen
@pytest.fixture(scope="session")
def flax_ckpts(tmp_path_factory):
    import flax.linen as nn
    import jax
    import jax.numpy as jnp
    import optax
    from flax import serialization

    class Net(nn.Module):
        @nn.compact
        def __call__(self, x, train: bool):
            x = nn.Dense(8)(x)
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9)(x)
            return nn.Dense(1)(nn.relu(x))

    out = tmp_path_factory.mktemp("flax")
    x, y = _data(np.random.default_rng(3))
    model = Net()
    variables = model.init(jax.random.PRNGKey(0), x, train=False)
    tx = optax.sgd(0.01)

    def train(keep_stats: bool):
        params, stats = variables["params"], variables["batch_stats"]
        opt_state = tx.init(params)

        @jax.jit
        def step(params, stats, opt_state):
            def loss_fn(p):
                pred, updates = model.apply({"params": p, "batch_stats": stats}, x, train=True,
                                            mutable=["batch_stats"])
                return jnp.mean((pred - y) ** 2), updates
            (loss, updates), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
            upd, opt_state = tx.update(grads, opt_state)
            return optax.apply_updates(params, upd), updates["batch_stats"], opt_state

        for _ in range(STEPS):
            params, new_stats, opt_state = step(params, stats, opt_state)
            if keep_stats:
                stats = new_stats  # the freeze is dropping this line
        return {"params": params, "batch_stats": stats}

    paths = {}
    for name, keep in (("good", True), ("frozen", False)):
        state = train(keep)
        mean = np.asarray(state["batch_stats"]["BatchNorm_0"]["mean"])
        assert (mean == 0).all() != keep
        (out / f"{name}.msgpack").write_bytes(serialization.to_bytes(state))
        paths[name] = str(out / f"{name}.msgpack")
        paths[f"{name}_state"] = jax.tree_util.tree_map(np.asarray, state)
    return paths
