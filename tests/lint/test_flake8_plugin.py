"""``flake8 --select BN`` runs bnguard's rules through the declared entry point (issue 4)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FLAKE8 = [sys.executable, "-m", "flake8"]


def _flake8(*args, cwd):
    return subprocess.run([*FLAKE8, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_flake8_reports_bn_findings_and_honours_noqa(tmp_path: Path):
    (tmp_path / "model.py").write_text(
        "import torch.nn as nn\n\n"
        "a = nn.BatchNorm2d(8, momentum=0.99)\n"
        "b = nn.BatchNorm2d(8, momentum=0.9)  # noqa: BN304\n")
    res = _flake8("--select", "BN", "model.py", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("model.py:3:32: BN304 ")


def test_flake8_clean_file_and_single_file_mode(tmp_path: Path):
    (tmp_path / "ok.py").write_text("import torch.nn as nn\n\nbn = nn.BatchNorm2d(8, momentum=0.01)\n")
    res = _flake8("--select", "BN", "ok.py", cwd=tmp_path)
    assert res.returncode == 0 and res.stdout == ""


def test_plugin_runs_rules_on_the_tree_flake8_gives():
    import ast

    from bnguard.lint.flake8_plugin import BNGuardFlake8

    src = "import torch.nn as nn\nbn = nn.BatchNorm1d(4, momentum=0.99)\n"
    out = list(BNGuardFlake8(ast.parse(src), "x.py", src.splitlines(True)).run())
    assert [(line, msg.split()[0]) for line, _, msg, _ in out] == [(2, "BN304")]
