"""Fuzz the readers with mutated real checkpoints: only clean `CheckpointError`s, no hang."""
from __future__ import annotations

import os
import shutil
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnguard.checkpoint import CheckpointError, inspect
from bnguard.result import Report

pytest.importorskip("torch")

SEEDS = {  # fixture key -> file name the mutant is written under
    "torch": [("good", "m.pt"), ("good_legacy", "m.pth"), ("good_st", "m.safetensors"), ("onnx_train", "m.onnx")],
    "keras": [("good", "m.keras"), ("good_weights", "m.weights.h5")],
    "flax": [("good", "m.msgpack")],
}
PER_FILE_SECONDS = 5.0
EXAMPLES = int(os.environ.get("BNGUARD_FUZZ_EXAMPLES", "120"))  # raise for a long local run

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 7)),
    st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
    st.tuples(st.just("smear"), st.floats(0, 1, exclude_max=True), st.integers(1, 64)),
)


def _mutate(data: bytes, ops) -> bytes:
    buf = bytearray(data)
    for kind, where, arg in ops:
        if not buf:
            break
        pos = int(where * len(buf))
        if kind == "flip":
            buf[pos] ^= 1 << arg
        elif kind == "truncate":
            del buf[pos:]
        else:  # overwrite a run of bytes with 0xFF (sizes, offsets, lengths become huge)
            buf[pos:pos + arg] = b"\xff" * len(buf[pos:pos + arg])
    return bytes(buf)


def _seeds(request):
    out = []
    for fixture, files in SEEDS.items():
        try:
            paths = request.getfixturevalue(f"{fixture}_ckpts")
        except pytest.skip.Exception:
            continue
        out.extend((open(paths[key], "rb").read(), name) for key, name in files)
    return out


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fuzz")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_mutated_checkpoints_fail_cleanly(request, fuzz_dir):
    seeds = _seeds(request)
    assert len(seeds) >= 5
    outcomes = {"report": 0, "error": 0}

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(seed=st.integers(0, len(seeds) - 1), ops=st.lists(mutation, min_size=1, max_size=4))
    def run(seed, ops):
        data, name = seeds[seed]
        path = fuzz_dir / name
        path.write_bytes(_mutate(data, ops))
        start = time.perf_counter()
        try:
            result = inspect(path)
            assert isinstance(result, Report)
            outcomes["report"] += 1
        except CheckpointError as exc:
            assert "\n" not in str(exc) and str(exc)
            outcomes["error"] += 1
        assert time.perf_counter() - start < PER_FILE_SECONDS

    run()
    assert outcomes["error"] > 0  # the mutations really broke files


def test_mutated_tf_checkpoints_fail_cleanly(tf1_ckpts, fuzz_dir):
    """TF's own reader sits behind ours: a damaged .index or .data shard must still be one clean error."""
    prefix = tf1_ckpts["good"]
    folder, base = os.path.dirname(prefix), os.path.basename(prefix)
    parts = {f[len(base):]: open(os.path.join(folder, f), "rb").read()
             for f in os.listdir(folder) if f.startswith(base) and not f.endswith(".meta")}
    assert set(parts) >= {".index", ".data-00000-of-00001"}
    target = fuzz_dir / "tf"
    target.mkdir(exist_ok=True)
    errors = []

    @settings(max_examples=max(20, EXAMPLES // 4), deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(which=st.sampled_from(sorted(parts)), ops=st.lists(mutation, min_size=1, max_size=3))
    def run(which, ops):
        for suffix, data in parts.items():
            (target / f"model.ckpt{suffix}").write_bytes(_mutate(data, ops) if suffix == which else data)
        start = time.perf_counter()
        try:
            assert isinstance(inspect(target / "model.ckpt"), Report)
        except CheckpointError as exc:
            assert "\n" not in str(exc)
            errors.append(exc)
        assert time.perf_counter() - start < PER_FILE_SECONDS

    run()
    assert errors
