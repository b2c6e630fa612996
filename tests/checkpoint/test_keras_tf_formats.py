"""Keras 3 (.keras, .weights.h5, tf.train.Checkpoint), tf_keras legacy .h5 and TF1 Saver checkpoints."""
from __future__ import annotations

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


def test_keras_weights_h5_without_config(keras_ckpts):
    assert inspect(keras_ckpts["good_weights"]).ok
    bad = inspect(keras_ckpts["frozen_weights"])
    assert set(bad.verdicts().values()) == {"never-updated?"} and len(bad) == 2


def test_keras_tf_object_checkpoint(keras_ckpts):
    assert inspect(keras_ckpts["good_tf"]).ok
    bad = inspect(keras_ckpts["frozen_tf"] + ".index")
    assert len(bad) == 2 and set(bad.verdicts().values()) == {"never-updated?"}


def test_tf_keras_legacy_h5(tf_keras_h5):
    good = inspect(tf_keras_h5["good"])
    assert good.ok and good.meta["format"] == "keras-legacy-h5" and len(good) == 1
    bad = inspect(tf_keras_h5["frozen"])
    assert bad.verdicts() == {"bn": "never-updated?"}


def test_tf1_saver_update_ops_not_run(tf1_ckpts, train_steps):
    good = inspect(tf1_ckpts["good"])
    assert good.ok and good.verdicts().get("bn1") == "ok" and good.meta["framework"] == "tf"
    bad = inspect(tf1_ckpts["frozen"] + ".meta")
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
