"""The repository's .pre-commit-hooks.yaml works under a real ``pre-commit run`` (issue 4).

pre-commit would normally build the hook's own virtualenv from the repository (network). The test
keeps the hook definitions exactly as published — id, entry, file types, serial — and only swaps
``language: python`` for ``language: system`` with the entry resolved in this venv, then runs real
pre-commit in a temporary git repository.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(shutil.which("git") is None or not (VENV_BIN / "pre-commit").exists(),
                                reason="needs git and pre-commit")


def _hooks() -> dict:
    return {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def _repo(tmp_path: Path, hook_ids) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    hooks = []
    for hid in hook_ids:
        h = dict(_hooks()[hid])
        assert h["language"] == "python" and h["entry"].startswith("bnguard ")
        h["language"] = "system"
        h["entry"] = str(VENV_BIN / "bnguard") + h["entry"][len("bnguard"):]
        hooks.append(h)
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}))
    return repo


def _run(repo: Path, tmp_path: Path):
    env = dict(os.environ, PRE_COMMIT_HOME=str(tmp_path / "pc-home"), PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    return subprocess.run([str(VENV_BIN / "pre-commit"), "run", "--all-files", "--color", "never"],
                          cwd=repo, env=env, capture_output=True, text=True, timeout=120)


def test_hook_fails_on_a_bn_bug_and_passes_when_clean(tmp_path):
    repo = _repo(tmp_path, ["bnguard"])
    (repo / "model.py").write_text("import torch.nn as nn\n\nbn = nn.BatchNorm2d(8, momentum=0.99)\n")
    (repo / "README.txt").write_text("not python\n")
    res = _run(repo, tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    assert "model.py:3:" in res.stdout and "BN304" in res.stdout
    (repo / "model.py").write_text("import torch.nn as nn\n\nbn = nn.BatchNorm2d(8, momentum=0.01)\n")
    res = _run(repo, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Passed" in res.stdout


def test_fix_hook_rewrites_the_file(tmp_path):
    repo = _repo(tmp_path, ["bnguard-fix"])
    model = repo / "model.py"
    model.write_text("import torch.nn as nn\n\nbn = nn.BatchNorm2d(8, momentum=0.99)  # from TF\n")
    res = _run(repo, tmp_path)
    # pre-commit reports a hook that modified files as failed, like any fixer
    assert res.returncode == 1 and "files were modified by this hook" in res.stdout
    assert model.read_text() == "import torch.nn as nn\n\nbn = nn.BatchNorm2d(8, momentum=0.01)  # from TF\n"
