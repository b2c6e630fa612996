"""Bad input for ``bnguard check``: every broken file is one clear error entry, the run goes on
over the other files, no traceback ever reaches the user, and the exit code says what happened."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnguard.lint.engine import lint_paths

FLAGGED = (Path(__file__).parent / "fixtures" / "tf1" / "flagged" / "bn101_constant_compat_v1.py").read_text()
CLEAN = "import tensorflow as tf\nx = tf.placeholder(tf.float32)\n"


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bnguard", "check", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture()
def broken_tree(tmp_path: Path) -> Path:
    (tmp_path / "syntax_error.py").write_text("import tensorflow as tf\n\ndef f(:\n    pass\n")
    (tmp_path / "undecodable.py").write_bytes(b"x = '\xff\xfe\xfa'\n")
    (tmp_path / "empty.py").write_text("")
    (tmp_path / "binary.py").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "good_flagged.py").write_text(FLAGGED)
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "inner.py").write_text(CLEAN)
    os.symlink(tmp_path, loop / "back_to_top")  # directory symlink loop
    os.symlink(tmp_path / "self_a.py", tmp_path / "self_b.py")  # file symlink loop
    os.symlink(tmp_path / "self_b.py", tmp_path / "self_a.py")
    return tmp_path


def _errors_by_name(result) -> dict[str, str]:
    return {Path(e.path).name: e.message for e in result.errors}


def test_each_broken_file_is_one_error_and_the_run_continues(broken_tree):
    result = lint_paths([str(broken_tree)])
    errors = _errors_by_name(result)
    assert errors["syntax_error.py"].startswith("syntax error at line 3")
    assert [e.line for e in result.errors if e.path.endswith("syntax_error.py")] == [3]
    assert "decode" in errors["undecodable.py"]
    assert "binary" in errors["binary.py"]
    assert "symbolic link" in errors["self_a.py"] or "symbolic link" in errors.get("self_b.py", "")
    assert any("loop" in m for m in errors.values())
    # an empty file gets an entry that does not fail the run (an empty __init__.py gets none at all)
    assert errors["empty.py"] == "empty file: nothing to analyse"
    assert [e.fatal for e in result.errors if e.path.endswith("empty.py")] == [False]
    # the good file next to the broken ones is still analysed
    assert [(Path(f.path).name, f.code) for f in result.findings] == [("good_flagged.py", "BN101")]


def test_cli_reports_errors_without_traceback_and_exits_1_when_findings(broken_tree):
    proc = _run_cli(str(broken_tree))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "syntax_error.py:3: error: syntax error at line 3" in proc.stderr
    assert "BN101" in proc.stdout


def test_cli_json_lists_errors(broken_tree):
    proc = _run_cli("--format", "json", str(broken_tree))
    data = json.loads(proc.stdout)
    names = {Path(e["path"]).name for e in data["errors"]}
    assert {"syntax_error.py", "undecodable.py", "binary.py"} <= names
    assert [f["code"] for f in data["findings"]] == ["BN101"]


def test_symlinked_directory_alias_is_checked_once_at_its_real_location(tmp_path):
    """``notebooks/config -> ../config`` (a common repository layout) is no loop and no error: the
    files are checked once, under their real path."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "train.py").write_text(FLAGGED)
    (tmp_path / "notebooks").mkdir()
    os.symlink(tmp_path / "config", tmp_path / "notebooks" / "config")
    result = lint_paths([str(tmp_path)])
    assert result.errors == []
    assert [(Path(f.path).parent.name, f.code) for f in result.findings] == [("config", "BN101")]
    assert all("notebooks" not in f.path for f in result.findings)


def test_exit_2_when_only_errors_and_0_when_clean(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def (:\n")
    proc = _run_cli(str(bad))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    good = tmp_path / "good.py"
    good.write_text(CLEAN)
    assert _run_cli(str(good)).returncode == 0
    missing = _run_cli(str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "no such file" in missing.stdout + missing.stderr


def test_unreadable_file_is_an_error(tmp_path, monkeypatch):
    target = tmp_path / "secret.py"
    target.write_text(FLAGGED)
    (tmp_path / "other.py").write_text(FLAGGED)
    if os.geteuid() == 0:
        # root reads anything regardless of mode bits: make the OS refuse this one path
        real_open = open

        def refusing_open(path, *args, **kwargs):
            if str(path) == str(target):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr("builtins.open", refusing_open)
    else:
        target.chmod(0)
    try:
        result = lint_paths([str(tmp_path)])
    finally:
        target.chmod(0o644)
    assert _errors_by_name(result) == {"secret.py": "permission denied"}
    assert [Path(f.path).name for f in result.findings] == ["other.py"]


def test_fifo_named_py_does_not_block(tmp_path):
    os.mkfifo(tmp_path / "pipe.py")
    result = lint_paths([str(tmp_path)])
    assert _errors_by_name(result) == {"pipe.py": "not a regular file"}


def test_file_of_several_megabytes_is_analysed(tmp_path):
    body = FLAGGED
    copies = []
    i = 0
    while sum(map(len, copies)) < 3_000_000:
        copies.append(body.replace("is_training", f"is_training_{i}"))
        i += 1
    (tmp_path / "generated.py").write_text("".join(copies))
    result = lint_paths([str(tmp_path)], select=["BN101"])
    assert not result.errors
    assert len(result.findings) == i


def test_too_large_and_too_deep_files_are_errors(tmp_path, monkeypatch):
    import bnguard.lint.engine as engine

    (tmp_path / "huge.py").write_text("x = 1\n" * 40_000)
    (tmp_path / "deep.py").write_text("x = " + "(" * 50_000 + ")" * 50_000 + "\n")
    monkeypatch.setattr(engine, "MAX_FILE_BYTES", 150_000)
    result = lint_paths([str(tmp_path)])
    errors = _errors_by_name(result)
    assert errors["huge.py"].startswith("file too large")
    assert set(errors) == {"huge.py", "deep.py"}
    assert "too large" not in errors["deep.py"]


def test_console_exit_keeps_the_whole_output_and_exit_code():
    """``python -m bnguard check`` ends the process without freeing its syntax trees: the output
    (tens of KB of JSON here) must still arrive complete, with the exit code of the findings."""
    corpus = Path(__file__).parent / "behaviour_corpus"
    proc = _run_cli(str(corpus), "--format", "json", "--no-cache")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    in_process = lint_paths([str(corpus)])
    assert len(report["findings"]) == len(in_process.findings) > 20
    assert {(f["path"], f["line"], f["code"]) for f in report["findings"]} == \
        {(f.path, f.line, f.code) for f in in_process.findings}
    clean = _run_cli(str(Path(__file__).parent / "fixtures" / "torch" / "BN301" / "clean"), "--no-cache")
    assert clean.returncode == 0, clean.stdout + clean.stderr
