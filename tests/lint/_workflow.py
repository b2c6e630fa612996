"""Helpers shared by the workflow tests (issue 4): run the CLI in-process, write small projects."""
from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

from click.testing import CliRunner

from bnguard.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
TORCH_MOMENTUM = """\
import torch.nn as nn

bn = nn.BatchNorm2d(64, momentum=0.99)
"""


def run_check(*args: str, cwd: str | os.PathLike | None = None):
    """``bnguard check ARGS`` in-process; returns the click Result (stdout, stderr, exit_code)."""
    old = os.getcwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        return CliRunner().invoke(cli, ["check", *args], catch_exceptions=False)
    finally:
        os.chdir(old)


def run_json(*args: str, cwd=None) -> dict:
    res = run_check("--format", "json", *args, cwd=cwd)
    assert res.exit_code in (0, 1, 2), res.output
    return json.loads(res.stdout)


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


def codes(report: dict) -> list[tuple[str, int, str]]:
    return [(os.path.basename(f["path"]), f["line"], f["code"]) for f in report["findings"]]
