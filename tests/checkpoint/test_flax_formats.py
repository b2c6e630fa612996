"""Flax linen: msgpack (decoded without flax) and Orbax folders."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from bnguard.checkpoint import inspect

pytest.importorskip("flax")


def test_flax_msgpack_step_dropping_batch_stats(flax_ckpts):
    good = inspect(flax_ckpts["good"])
    assert good.verdicts() == {"BatchNorm_0": "ok"}
    expected = flax_ckpts["good_state"]["batch_stats"]["BatchNorm_0"]["var"]
    assert good["BatchNorm_0"].data["var_max"] == pytest.approx(float(expected.max()))
    bad = inspect(flax_ckpts["frozen"])
    assert bad.verdicts() == {"BatchNorm_0": "never-updated?"} and "BN402" in bad.summary


def test_msgpack_read_without_flax_or_jax(flax_ckpts):
    code = ("import sys; from bnguard.checkpoint import inspect; r = inspect(sys.argv[1]); "
            "assert not r.ok; assert 'jax' not in sys.modules and 'flax' not in sys.modules")
    subprocess.run([sys.executable, "-c", code, flax_ckpts["frozen"]], check=True)


def test_orbax_folder(flax_ckpts, tmp_path):
    ocp = pytest.importorskip("orbax.checkpoint")
    for name in ("good", "frozen"):
        with ocp.StandardCheckpointer() as ckptr:
            ckptr.save(tmp_path / name, flax_ckpts[f"{name}_state"])
    good = inspect(tmp_path / "good")
    assert good.meta["format"] == "orbax" and good.verdicts() == {"BatchNorm_0": "ok"}
    assert good["BatchNorm_0"].data["mean_max"] == pytest.approx(
        float(np.max(flax_ckpts["good_state"]["batch_stats"]["BatchNorm_0"]["mean"])))
    assert inspect(tmp_path / "frozen").verdicts() == {"BatchNorm_0": "never-updated?"}
