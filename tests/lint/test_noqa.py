"""Suppressions: ``# noqa``, ``# noqa: CODE`` and file-level ``# bnguard: noqa`` (issue 4)."""
from __future__ import annotations

from _workflow import codes, run_check, run_json, write

SRC = """\
import torch.nn as nn

a = nn.BatchNorm2d(64, momentum=0.99){c1}
b = nn.BatchNorm2d(64, momentum=0.9){c2}
"""


def _codes(tmp_path, c1="", c2="", *extra):
    write(tmp_path, "m.py", SRC.format(c1=c1, c2=c2))
    return codes(run_json(str(tmp_path), "--no-cache", *extra))


def test_blanket_and_coded_noqa_on_the_reported_line(tmp_path):
    assert _codes(tmp_path) == [("m.py", 3, "BN304"), ("m.py", 4, "BN304")]
    assert _codes(tmp_path, "  # noqa") == [("m.py", 4, "BN304")]
    assert _codes(tmp_path, "  # noqa: BN304", "  # NOQA:BN3") == []


def test_noqa_for_another_code_does_not_suppress(tmp_path):
    assert _codes(tmp_path, "  # noqa: BN101, E501") == [("m.py", 3, "BN304"), ("m.py", 4, "BN304")]


def test_noqa_inside_a_string_does_not_suppress(tmp_path):
    write(tmp_path, "m.py", 'import torch.nn as nn\n\na = nn.BatchNorm2d(64, momentum=0.99); s = "# noqa"\n')
    assert codes(run_json(str(tmp_path), "--no-cache")) == [("m.py", 3, "BN304")]


def test_file_level_suppression(tmp_path):
    write(tmp_path, "m.py", "# bnguard: noqa\n" + SRC.format(c1="", c2=""))
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []
    write(tmp_path, "m.py", SRC.format(c1="", c2="") + "\n# bnguard: noqa: BN3\n")
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []
    write(tmp_path, "m.py", "# bnguard: noqa: BN1\n" + SRC.format(c1="", c2=""))
    assert len(run_json(str(tmp_path), "--no-cache")["findings"]) == 2
    # a trailing comment is not a file-level directive
    write(tmp_path, "m.py", SRC.format(c1="  # bnguard: noqa", c2=""))
    assert codes(run_json(str(tmp_path), "--no-cache")) == [("m.py", 3, "BN304"), ("m.py", 4, "BN304")]


def test_noqa_on_the_last_line_of_a_multi_line_call(tmp_path):
    write(tmp_path, "m.py", "import torch.nn as nn\n\na = nn.BatchNorm2d(\n    64,\n    momentum=0.99,\n)  # noqa: BN304\n")
    # the finding is on the momentum value's line; the statement's closing line does not cover it
    found = codes(run_json(str(tmp_path), "--no-cache"))
    write(tmp_path, "m.py", "import torch.nn as nn\n\na = nn.BatchNorm2d(\n    64,\n    momentum=0.99,  # noqa: BN304\n)\n")
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []
    assert found == [("m.py", 5, "BN304")]


def test_show_suppressed_lists_them_and_exit_code_ignores_them(tmp_path):
    write(tmp_path, "m.py", SRC.format(c1="  # noqa: BN304", c2="  # noqa"))
    res = run_check(str(tmp_path), "--no-cache")
    assert res.exit_code == 0 and "2 suppressed" in res.stdout and "BN304" not in res.stdout.splitlines()[0]
    res = run_check(str(tmp_path), "--no-cache", "--show-suppressed")
    assert res.exit_code == 0
    assert sum("(suppressed)" in ln for ln in res.stdout.splitlines()) == 2
    data = run_json(str(tmp_path), "--no-cache", "--show-suppressed")
    assert data["findings"] == [] and [f["line"] for f in data["suppressed"]] == [3, 4]
