"""Untrusted input: code-running pickles are refused with nothing run; damaged files give one line, exit 2."""
from __future__ import annotations

import io
import os
import pickle
import shutil
import struct
import subprocess
import sys
import zipfile

import pytest

from bnguard.checkpoint import CheckpointError, UnsafeCheckpointError, inspect

torch = pytest.importorskip("torch")


class RunsCode:
    """What a malicious checkpoint contains: unpickling calls os.system."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _rezip(src, dst, replace):
    """Copy a torch zip, replacing some entries' bytes (torch writes entries uncompressed)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            for suffix, new in replace.items():
                if info.filename.endswith(suffix):
                    data = new
            zout.writestr(info.filename, data)


def _run_cli(*args):
    return subprocess.run([sys.executable, "-m", "bnguard", *args], capture_output=True, text=True, timeout=120)


def test_reduce_pickle_in_torch_zip_is_refused_and_nothing_runs(torch_ckpts, tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    payload = pickle.dumps({"model": {"w": 1}, "x": RunsCode(marker)}, protocol=2)
    _rezip(torch_ckpts["good"], evil, {"data.pkl": payload})
    with pytest.raises(UnsafeCheckpointError, match="posix.system|nt.system|os.system"):
        inspect(evil)
    assert not marker.exists()
    proc = _run_cli("inspect", str(evil))
    assert proc.returncode == 2 and not marker.exists()
    assert proc.stderr.count("\n") == 1 and "refused" in proc.stderr and "Traceback" not in proc.stderr


def test_reduce_pickle_legacy_and_plain_pickle_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    legacy = tmp_path / "legacy.pth"
    with open(legacy, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(header, f, protocol=2)
        pickle.dump({"state": RunsCode(marker)}, f, protocol=2)
        pickle.dump([], f, protocol=2)
    plain = tmp_path / "plain.pt"
    plain.write_bytes(pickle.dumps(RunsCode(marker)))
    for path in (legacy, plain):
        with pytest.raises(CheckpointError, match="refused"):
            inspect(path)
    assert not marker.exists()
    # control: the plain pickle really would have run code
    pickle.loads(plain.read_bytes())
    assert marker.exists()


def test_numpy_scalars_and_namespaces_in_metadata_are_read_as_data(tmp_path):
    import argparse

    import numpy as np

    bn = torch.nn.BatchNorm1d(3)
    bn.train()
    bn(torch.randn(4, 3))
    path = tmp_path / "meta.pt"
    torch.save({"state_dict": bn.state_dict(), "best_acc": np.float64(0.9),
                "args": argparse.Namespace(lr=0.1)}, path, pickle_protocol=2)
    assert inspect(path).verdicts() == {"state_dict": "ok"}


def _encrypted_copy(src, dst):
    if shutil.which("zip"):
        work = dst.parent / "enc"
        work.mkdir()
        shutil.copy(src, work / "model.pt")
        subprocess.run(["zip", "-q", "-P", "secret", str(dst), "model.pt"], cwd=work, check=True)
        return
    # no zip tool: mark every entry encrypted (bit 0 of the general-purpose flags)
    data = bytearray(open(src, "rb").read())
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            flags = struct.unpack_from("<H", data, i + off)[0] | 1
            struct.pack_into("<H", data, i + off, flags)
            i = data.find(sig, i + 4)
    dst.write_bytes(bytes(data))


@pytest.mark.parametrize("case", ["zero-byte", "truncated", "corrupted", "wrong-extension", "encrypted",
                                  "missing", "truncated-safetensors", "not-a-model-zip"])
def test_damaged_files_give_one_line_and_exit_2(torch_ckpts, tmp_path, case):
    good = open(torch_ckpts["good"], "rb").read()
    path = tmp_path / "model.pt"
    if case == "zero-byte":
        path.write_bytes(b"")
    elif case == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif case == "corrupted":
        path.write_bytes(bytes(b ^ 0x5A for b in good))
    elif case == "wrong-extension":
        path = tmp_path / "notes.pt"
        path.write_text("these are my notes, not a model\n" * 20)
    elif case == "encrypted":
        path = tmp_path / "locked.zip"
        _encrypted_copy(torch_ckpts["good"], path)
    elif case == "missing":
        path = tmp_path / "nope.pt"
    elif case == "truncated-safetensors":
        st = open(torch_ckpts["good_st"], "rb").read()
        path = tmp_path / "model.safetensors"
        path.write_bytes(st[: len(st) - 40])
    elif case == "not-a-model-zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("readme.txt", "hello")
        path.write_bytes(buf.getvalue())
    with pytest.raises(CheckpointError) as err:
        inspect(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    if case == "encrypted":
        assert "password" in str(err.value)
    proc = _run_cli("inspect", str(path))
    assert proc.returncode == 2, proc
    assert proc.stdout == "" and proc.stderr.startswith("bnguard: error: ") and proc.stderr.count("\n") == 1


def test_content_decides_not_the_extension(torch_ckpts, tmp_path):
    renamed = tmp_path / "weights.bin"
    shutil.copy(torch_ckpts["good_st"], renamed)
    rep = inspect(renamed)
    assert rep.meta["format"] == "safetensors" and rep.ok


def test_cli_exit_codes_and_json(torch_ckpts):
    import json

    ok = _run_cli("inspect", torch_ckpts["good"])
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "2 BN layer(s) checked: all ok"
    bad = _run_cli("inspect", "--format", "json", torch_ckpts["frozen"])
    assert bad.returncode == 1
    doc = json.loads(bad.stdout)
    assert doc["ok"] is False and {layer["verdict"] for layer in doc["layers"]} == {"never-updated"}
    assert doc["format"] == "pytorch-zip" and doc["summary"].startswith("2 of 2 BN layers were never updated")
