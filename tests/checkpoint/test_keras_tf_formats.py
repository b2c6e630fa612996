"""Keras 3 (.keras, .weights.h5, tf.train.Checkpoint), tf_keras legacy .h5 and TF1 Saver checkpoints."""
from __future__ import annotations

import os

import pytest

from bnguard.checkpoint import inspect

pytest.importorskip("tensorflow")


def test_keras_file_maps_vars_through_config_center_false(keras_ckpts):
    good = inspect(keras_ckpts["good"])
    assert good.ok and good.verdicts() == {"bn_a": "ok", "bn_b": "ok"}
    assert good["bn_b"].data["channels"] == 4  # center=False: vars/0..2 = gamma, mean, var
    bad = inspect(keras_ckpts["frozen"])
    assert bad.verdicts() == {"bn_a": "never-updated?", "bn_b": "never-updated?"}
    assert "BN201" in bad.summary and bad.meta["framework"] == "keras"


def test_keras_center_false_reads_the_real_moving_variance(keras_ckpts):
    import keras

    model = keras.models.load_model(keras_ckpts["good"])
    bn_b = model.get_layer("bn_b")
    r = inspect(keras_ckpts["good"])["bn_b"]
    assert r.data["var_max"] == pytest.approx(float(bn_b.moving_variance.numpy().max()))
    assert r.data["mean_min"] == pytest.approx(float(bn_b.moving_mean.numpy().min()))


def test_keras_trainable_false_bn_is_explained(tmp_path):
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8),
                              keras.layers.BatchNormalization(name="frozen_bn", trainable=False),
                              keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(3, 2, size=(16, 6)).astype("float32")
    model.fit(x, x[:, :1], batch_size=8, epochs=1, verbose=0)
    assert (model.get_layer("frozen_bn").moving_mean.numpy() == 0).all()  # inference mode in fit
    model.save(tmp_path / "m.keras")
    rep = inspect(tmp_path / "m.keras")
    # fit's optimizer iterations are saved with the model: the init values are confirmed
    assert rep.meta["recorded_steps"] == 2
    assert rep["frozen_bn"].verdict == "never-updated" and "trainable=False" in rep["frozen_bn"].detail


def test_keras_weights_h5_without_config(keras_ckpts):
    assert inspect(keras_ckpts["good_weights"]).ok
    bad = inspect(keras_ckpts["frozen_weights"])
    assert set(bad.verdicts().values()) == {"never-updated?"} and len(bad) == 2


def test_keras_tf_object_checkpoint(keras_ckpts):
    assert inspect(keras_ckpts["good_tf"]).ok
    bad = inspect(keras_ckpts["frozen_tf"] + ".index")
    assert len(bad) == 2 and set(bad.verdicts().values()) == {"never-updated?"}


def test_keras_savedmodel_export_names_layers_from_its_object_graph(keras_ckpts):
    # model.export() keys variables as variables/<i>/...: the layer names come from saved_model.pb
    good = inspect(keras_ckpts["good_savedmodel"])
    assert good.ok and sorted(n.split("/")[-1] for n in good.verdicts()) == ["bn_a", "bn_b"]
    bad = inspect(keras_ckpts["frozen_savedmodel"])
    assert set(bad.verdicts().values()) == {"never-updated?"} and len(bad) == 2
    assert [r.data["channels"] for r in bad.layers if r.name.endswith("/bn_a")] == [8]


def test_tf_keras_legacy_h5(tf_keras_h5):
    good = inspect(tf_keras_h5["good"])
    assert good.ok and good.meta["format"] == "keras-legacy-h5" and len(good) == 1
    bad = inspect(tf_keras_h5["frozen"])
    assert bad.verdicts() == {"bn": "never-updated?"}


def test_tf1_saver_update_ops_not_run(tf1_ckpts, train_steps):
    good = inspect(tf1_ckpts["good"])
    assert good.ok and good.verdicts().get("bn1") == "ok" and good.meta["framework"] == "tf"
    bad = inspect(tf1_ckpts["frozen"] + ".meta")
    assert inspect(os.path.dirname(tf1_ckpts["frozen"])).verdicts() == bad.verdicts()  # the folder
    # global_step says training ran, so the init values are confirmed, not merely suspected
    assert bad.meta["recorded_steps"] == train_steps
    assert bad["bn1"].verdict == "never-updated"
    assert "BN101/BN103" in bad.summary


def test_tf1_meta_graph_is_checked_offline(tf1_ckpts):
    tf1 = pytest.importorskip("bnguard.tf1")
    if not hasattr(tf1, "check_graph"):
        pytest.skip("bnguard.tf1.check_graph not available")
    bad = inspect(tf1_ckpts["frozen"])
    assert bad.verdicts()["graph:bn1"] == "updates-not-run"
    assert "saved graph check" in bad.summary
    assert not any(r.name.startswith("graph:") for r in inspect(tf1_ckpts["good"]))


def test_keras_nested_model_names_follow_keras_paths(tmp_path):
    """The outer BN sorts first in the file but comes last in the config: names must not be zipped in order."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(0)
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4),
                              keras.layers.BatchNormalization(name="in_bn1", center=False),
                              keras.layers.Dense(3), keras.layers.BatchNormalization(name="in_bn2")])
    x = keras.Input((6,))
    out = keras.layers.Dense(1)(keras.layers.BatchNormalization(name="out_bn", scale=False)(inner(x)))
    model = keras.Model(x, out)
    model.compile(optimizer="sgd", loss="mse")
    data = np.random.default_rng(0).normal(3, 2, size=(16, 6)).astype("float32")
    model.fit(data, data[:, :1], batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / "nested.keras")
    rep = inspect(tmp_path / "nested.keras")
    layers = {"in_bn1": inner.get_layer("in_bn1"), "in_bn2": inner.get_layer("in_bn2"),
              "out_bn": model.get_layer("out_bn")}
    assert rep.verdicts() == {name: "ok" for name in layers}
    for name, layer in layers.items():
        assert rep[name].data["channels"] == layer.moving_mean.shape[0]
        assert rep[name].data["var_max"] == pytest.approx(float(layer.moving_variance.numpy().max()))
        assert rep[name].data["mean_min"] == pytest.approx(float(layer.moving_mean.numpy().min()))
