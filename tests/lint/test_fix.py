"""--fix and --diff: apply, re-check (no finding left, file parses, nothing else changed)."""
from __future__ import annotations

import ast
import difflib
import json
import shutil

from _workflow import FIXTURES, run_check, run_json, write

from bnguard.lint.finding import Edit, Finding, Fix
from bnguard.lint.fix import apply_edits, parses


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    out = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, before.splitlines(), after.splitlines()).get_opcodes():
        if tag != "equal":
            out.append(("\n".join(before.splitlines()[i1:i2]), "\n".join(after.splitlines()[j1:j2])))
    return out


def test_fix_momentum_then_recheck(tmp_path):
    src = FIXTURES / "workflow" / "fixable" / "layers.py"
    target = tmp_path / "layers.py"
    shutil.copy(src, target)
    before = target.read_text()
    assert len(run_json(str(tmp_path), "--no-cache")["findings"]) == 2
    res = run_check(str(tmp_path), "--fix")
    assert res.exit_code == 0, res.output
    assert "Fixed 2 problems" in res.stderr
    after = target.read_text()
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []  # nothing left
    ast.parse(after)  # still parses
    # nothing else changed: exactly the two momentum values, comments and spacing kept
    assert _changed_lines(before, after) == [
        ("        nn.BatchNorm2d(cout, momentum=0.99),   # ported from Keras",
         "        nn.BatchNorm2d(cout, momentum=0.01),   # ported from Keras"),
        ("    return nn.BatchNorm1d(c, eps=1e-3, momentum=0.9)",
         "    return nn.BatchNorm1d(c, eps=1e-3, momentum=0.1)"),
    ]


def test_diff_prints_a_unified_diff_and_changes_nothing(tmp_path):
    target = write(tmp_path, "m.py", "import torch.nn as nn\r\n\r\nbn = nn.BatchNorm2d(64, momentum=0.99)  # keep me\r\n")
    before = target.read_bytes()
    res = run_check(str(tmp_path), "--diff")
    assert res.exit_code == 1
    assert "-bn = nn.BatchNorm2d(64, momentum=0.99)  # keep me" in res.stdout
    assert "+bn = nn.BatchNorm2d(64, momentum=0.01)  # keep me" in res.stdout
    assert target.read_bytes() == before
    # --fix keeps the CRLF line endings
    assert run_check(str(tmp_path), "--fix").exit_code == 0
    assert target.read_bytes() == before.replace(b"0.99", b"0.01")


def test_suppressed_findings_are_not_fixed(tmp_path):
    target = write(tmp_path, "m.py", "import torch.nn as nn\n\nbn = nn.BatchNorm2d(64, momentum=0.99)  # noqa: BN304\n")
    before = target.read_text()
    assert run_check(str(tmp_path), "--fix").exit_code == 0
    assert target.read_text() == before


def test_overlapping_fixes_are_applied_one_at_a_time_and_unparsable_results_rejected():
    text = "x = f(a, b)\n"
    f1 = Finding("m.py", 1, 6, "BN999", "t", "m")
    f2 = Finding("m.py", 1, 6, "BN998", "t", "m")
    out, applied = apply_edits(text, [(f1, Fix("a->c", (Edit(1, 6, 1, 7, "c"),))),
                                      (f2, Fix("a,b->d", (Edit(1, 6, 1, 10, "d"),)))])
    assert out == "x = f(c, b)\n" and applied == [f1]
    assert parses("x = f(c, b)\n") is None
    assert "would not parse" in parses("x = f(c, \n")


def test_edit_columns_are_utf8_byte_offsets_like_ast():
    text = "s = 'é'; bn = BN(momentum=0.99)\n"
    node = ast.parse(text).body[1].value.keywords[0].value
    f = Finding("m.py", 1, node.col_offset, "BN999", "t", "m")
    out, _ = apply_edits(text, [(f, Fix("m", (Edit(1, node.col_offset, 1, node.end_col_offset, "0.01"),)))])
    assert out == "s = 'é'; bn = BN(momentum=0.01)\n"


# --- notebooks ----------------------------------------------------------------------------------

def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3"}},
            "nbformat": 4, "nbformat_minor": 5}


def _code(source, outputs=None) -> dict:
    return {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": outputs or [], "source": source}


def _jupyter_layout(nb: dict) -> str:
    # what nbformat (Jupyter, VS Code, Colab) writes
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def test_fix_in_a_notebook_edits_only_the_cells_source(tmp_path):
    output = {"name": "stdout", "output_type": "stream", "text": ["epoch 0 ✓\n"]}
    nb = _notebook([
        {"cell_type": "markdown", "metadata": {}, "source": ["# Ported from Keras — ünïcode kept\n"]},
        _code(["%matplotlib inline\n", "import torch.nn as nn\n",
               "bn = nn.BatchNorm2d(64, momentum=0.99)  # ported from Keras\n"], [output]),
        # a cell indented as a whole (IPython dedents it): the edit lands at the right column
        _code("  import torch.nn as nn\n  head = nn.BatchNorm1d(8, momentum=0.9)"),
    ])
    target = tmp_path / "port.ipynb"
    target.write_text(_jupyter_layout(nb), encoding="utf-8")
    before = target.read_text(encoding="utf-8")
    assert [f["code"] for f in run_json(str(tmp_path), "--no-cache")["findings"]] == ["BN304", "BN304"]

    res = run_check(str(tmp_path), "--fix")
    assert res.exit_code == 0, res.output
    assert "Fixed 2 problems" in res.stderr
    after = target.read_text(encoding="utf-8")
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []
    # byte for byte the same notebook apart from the two edited source lines
    assert _changed_lines(before, after) == [
        ('    "bn = nn.BatchNorm2d(64, momentum=0.99)  # ported from Keras\\n"',
         '    "bn = nn.BatchNorm2d(64, momentum=0.01)  # ported from Keras\\n"'),
        ('   "source": "  import torch.nn as nn\\n  head = nn.BatchNorm1d(8, momentum=0.9)"',
         '   "source": "  import torch.nn as nn\\n  head = nn.BatchNorm1d(8, momentum=0.1)"'),
    ]
    fixed = json.loads(after)
    assert fixed["cells"][1]["outputs"] == [output] and fixed["cells"][0] == nb["cells"][0]


def test_fix_in_a_notebook_inserts_train_at_the_top_of_the_epoch_loop(tmp_path):
    from _torch_cases import FIXTURES as TORCH_FIXTURES

    program = (TORCH_FIXTURES / "BN301" / "flagged" / "inline_eval_after_epoch.py").read_text()
    head, loop = program.split("net = ConvNet()\n")
    nb = _notebook([_code(head.splitlines(keepends=True)), _code(("net = ConvNet()\n" + loop).splitlines(keepends=True))])
    target = tmp_path / "train.ipynb"
    target.write_text(_jupyter_layout(nb), encoding="utf-8")
    report = run_json(str(tmp_path), "--no-cache")
    assert [(f["code"], f["cell"]) for f in report["findings"]] == [("BN301", 2)]

    diff = run_check(str(tmp_path), "--diff")
    assert diff.exit_code == 1 and '+    "    net.train()\\n",' in diff.stdout
    assert json.loads(target.read_text(encoding="utf-8")) == nb  # --diff writes nothing

    assert run_check(str(tmp_path), "--fix").exit_code == 0
    assert run_json(str(tmp_path), "--no-cache")["findings"] == []
    cells = json.loads(target.read_text(encoding="utf-8"))["cells"]
    assert cells[0] == nb["cells"][0]
    new_loop = "".join(cells[1]["source"])
    ast.parse(new_loop)
    assert new_loop.count("net.train()") == 2 and new_loop.replace("    net.train()\n", "", 1) == "net = ConvNet()\n" + loop


def test_a_notebook_whose_json_layout_cannot_be_reproduced_is_left_alone(tmp_path):
    nb = _notebook([_code(["import torch.nn as nn\n", "bn = nn.BatchNorm2d(64, momentum=0.99)\n"])])
    target = tmp_path / "odd.ipynb"
    target.write_bytes(json.dumps(nb, indent=3).encode())  # no writer we know lays JSON out like this
    before = target.read_bytes()
    res = run_check(str(tmp_path), "--fix")
    assert res.exit_code == 1  # the finding is still there
    assert res.stderr.count("odd.ipynb: error: fix not applied: the notebook's JSON layout") == 1
    assert target.read_bytes() == before


def test_notebook_fixes_skip_magic_lines_and_keep_crlf(tmp_path):
    from bnguard.lint.fix import _cell_fixes, plan_fixes

    src = "%time x = 1\nbn = BN(momentum=0.99)\n"
    f_magic = Finding("n.ipynb", 1, 0, "BN999", "t", "m", cell=0)
    f_code = Finding("n.ipynb", 2, 17, "BN999", "t", "m", cell=0)
    kept = _cell_fixes(src, [(f_magic, Fix("magic", (Edit(1, 0, 1, 5, "%%", 0),))),
                             (f_code, Fix("code", (Edit(2, 17, 2, 21, "0.01", 0),)))])
    assert [f for f, _ in kept] == [f_code]

    nb = _notebook([_code(src.splitlines(keepends=True))])
    target = tmp_path / "n.ipynb"
    target.write_bytes(_jupyter_layout(nb).replace("\n", "\r\n").encode("utf-8"))
    f_code.path = str(target)
    f_code.fix = Fix("code", (Edit(2, 17, 2, 21, "0.01", 0),))
    (plan,) = plan_fixes([f_code])
    assert plan.error is None and plan.applied == [f_code]
    assert plan.fixed == target.read_bytes().decode("utf-8").replace("momentum=0.99", "momentum=0.01")
    assert plan.fixed.count("\r\n") == target.read_bytes().count(b"\r\n")
