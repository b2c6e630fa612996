"""Notebooks are checked like .py files; findings point at path:cell:line (issue 4)."""
from __future__ import annotations

import json

from _workflow import run_check, run_json


def _nb(path, cells, **extra):
    nb = {"cells": [{"cell_type": t, "source": s, "metadata": {}, "outputs": [], "execution_count": None}
                    if t == "code" else {"cell_type": t, "source": s, "metadata": {}} for t, s in cells],
          "metadata": {}, "nbformat": 4, "nbformat_minor": 5, **extra}
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


CELLS = [
    ("markdown", "# Training\nPorted from TF."),
    ("code", ["%matplotlib inline\n", "!pip install torch\n", "n_files, = !ls data | wc -l\n", "import torch.nn as nn\n"]),
    ("code", "files = !ls data\n%time x = 1\nnn.BatchNorm2d?\nbn = nn.BatchNorm2d(16, momentum=0.99)\n"),
    ("code", "%%bash\nfor f in *; do echo $f; done\n"),
]


def test_finding_points_at_cell_and_line(tmp_path):
    nb = _nb(tmp_path / "train.ipynb", CELLS)
    data = run_json(str(tmp_path), "--no-cache")
    assert data["errors"] == []  # magics, shell escapes and cell magics are not parse errors
    (f,) = data["findings"]
    assert (f["code"], f["cell"], f["line"]) == ("BN304", 3, 4)
    res = run_check(str(tmp_path), "--no-cache")
    assert res.stdout.splitlines()[0].startswith(f"{nb}:3:4:")


def test_cell_with_invalid_python_is_reported_and_the_rest_still_checked(tmp_path):
    cells = CELLS + [("code", "def broken(:\n    pass\n"), ("code", "bn2 = nn.BatchNorm1d(8, momentum=0.9)\n")]
    _nb(tmp_path / "nb.ipynb", cells)
    data = run_json(str(tmp_path), "--no-cache")
    assert [(f["cell"], f["line"]) for f in data["findings"]] == [(3, 4), (6, 1)]
    (err,) = data["errors"]
    assert "syntax error at cell 5, line 1" in err["message"]


def test_broken_notebooks_are_errors_not_crashes(tmp_path):
    (tmp_path / "notjson.ipynb").write_text("{ this is not json", encoding="utf-8")
    (tmp_path / "nocells.ipynb").write_text('{"metadata": {}, "nbformat": 4}', encoding="utf-8")
    (tmp_path / "latin1.ipynb").write_bytes('{"cells": [{"cell_type": "code", "source": "s = \'café\'"}]}'.encode("latin-1"))
    (tmp_path / "badsource.ipynb").write_text('{"cells": [{"cell_type": "code", "source": [1, 2]}]}', encoding="utf-8")
    res = run_check(str(tmp_path), "--no-cache", "--format", "json")
    assert res.exit_code == 2 and "Traceback" not in res.output
    msgs = {e["path"].rsplit("/", 1)[1]: e["message"] for e in json.loads(res.stdout)["errors"]}
    assert "not JSON" in msgs["notjson.ipynb"]
    assert "no 'cells' list" in msgs["nocells.ipynb"]
    assert "not UTF-8" in msgs["latin1.ipynb"]
    assert "'source' is not text" in msgs["badsource.ipynb"]


def test_notebook_with_many_megabytes_of_outputs(tmp_path):
    cells = [{"cell_type": "code", "source": "import torch.nn as nn\nbn = nn.BatchNorm2d(3, momentum=0.9)\n",
              "metadata": {}, "execution_count": 1,
              "outputs": [{"output_type": "display_data", "metadata": {},
                           "data": {"image/png": "iVBORw0KGgo" * 3_000_000}}]}]
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert path.stat().st_size > 30 * 1024 * 1024
    data = run_json(str(tmp_path), "--no-cache")
    assert [(f["cell"], f["line"]) for f in data["findings"]] == [(1, 2)] and data["errors"] == []


def test_nbformat3_and_utf8_bom(tmp_path):
    nb3 = {"worksheets": [{"cells": [{"cell_type": "code", "input": ["import torch.nn as nn\n",
                                                                   "bn = nn.BatchNorm2d(3, momentum=0.99)\n"]}]}],
           "metadata": {}, "nbformat": 3}
    (tmp_path / "old.ipynb").write_bytes(b"\xef\xbb\xbf" + json.dumps(nb3).encode())
    data = run_json(str(tmp_path), "--no-cache")
    assert [(f["cell"], f["line"]) for f in data["findings"]] == [(1, 2)]


def test_notebook_findings_can_be_suppressed_in_the_cell(tmp_path):
    _nb(tmp_path / "n.ipynb", [("code", "import torch.nn as nn\n"),
                               ("code", "bn = nn.BatchNorm2d(16, momentum=0.99)  # noqa: BN304\n")])
    data = run_json(str(tmp_path), "--no-cache", "--show-suppressed")
    assert data["findings"] == [] and [(f["cell"], f["line"]) for f in data["suppressed"]] == [(2, 1)]


def test_magic_as_only_block_body_and_indented_cells_are_valid(tmp_path):
    cells = [
        ("code", "import torch.nn as nn\nimport os\nif not os.path.isdir('data'):\n    !wget -q http://x/data.zip\n"
                 "    %cd data\nelse:\n    !ls\n"),
        ("code", "  bn = nn.BatchNorm2d(16, momentum=0.9)\n  print(bn)\n"),  # IPython dedents a cell
    ]
    _nb(tmp_path / "colab.ipynb", cells)
    data = run_json(str(tmp_path), "--no-cache")
    assert data["errors"] == []
    (f,) = data["findings"]
    assert (f["code"], f["cell"], f["line"]) == ("BN304", 2, 1)
    assert [e["cell"] for e in f["fix"]["edits"]] == [2]  # edits use the same 1-based cell numbers


def test_automagic_lines_are_not_parse_errors_but_python_using_those_names_is_kept(tmp_path):
    # Colab / Jupyter run `pip install x` and `matplotlib inline` as magics without the `%`
    cells = [
        ("code", "pip install tensorflow==1.15\nconda install -y pillow\nmatplotlib inline\ncd /content/data\n"),
        # the same names as ordinary Python stay code: this BN304 must still be found
        ("code", "import time\nimport torch.nn as nn\ntime.sleep(0)\nrun = 1\ncd = run\n"
                 "bn = nn.BatchNorm2d(8, momentum=0.99 if cd else 0.9)\n"),
        # a statement split over lines whose first line starts like a magic (`history ...`)
        ("code", "history = max(1,\n              2)\n"),
    ]
    _nb(tmp_path / "colab.ipynb", cells)
    data = run_json(str(tmp_path), "--no-cache")
    assert data["errors"] == []
    assert [(f["code"], f["cell"], f["line"]) for f in data["findings"]] == [("BN304", 2, 6)]
    res = run_check(str(tmp_path), "--no-cache")
    assert res.exit_code == 1  # a finding, and no input error


def test_lines_named_in_messages_are_cell_lines(tmp_path):
    """A message that names another line (where UPDATE_OPS was collected, where the BN is built)
    names it the way the finding's own location does: cell and line, not the joined text's line."""
    cells = [
        ("markdown", "# TF1 model"),
        ("code", "import tensorflow.compat.v1 as tf\nx = tf.placeholder(tf.float32, [None, 4])\n"),
        ("code", "update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)\n"
                 "h = tf.layers.batch_normalization(x, training=True)\n"
                 "loss = tf.reduce_mean(h)\n"
                 "with tf.control_dependencies(update_ops):\n"
                 "    train_op = tf.train.AdamOptimizer().minimize(loss)\n"),
    ]
    _nb(tmp_path / "tf1.ipynb", cells)
    (f,) = run_json(str(tmp_path), "--no-cache")["findings"]
    assert (f["code"], f["cell"], f["line"]) == ("BN104", 3, 5)
    assert "collected at cell 3, line 1, before the batch-norm layers are built (cell 3, line 2)" in f["message"]


def test_percent_operator_continuing_a_statement_is_python_not_a_magic(tmp_path):
    """``% (epoch, loss))`` inside an open bracket continues a format expression: IPython reads
    magics only where a statement starts. A magic right after a closed statement is still one."""
    cells = [("code", "import torch.nn as nn\nepoch, loss = 1, 0.5\nprint(\n    'epoch: %d, loss: %.4f'\n"
                      "    % (epoch, loss))\n%time y = 2\n!ls\nbn = nn.BatchNorm2d(3, momentum=0.9)\n")]
    _nb(tmp_path / "log.ipynb", cells)
    data = run_json(str(tmp_path), "--no-cache")
    assert data["errors"] == []
    assert [(f["code"], f["cell"], f["line"]) for f in data["findings"]] == [("BN304", 1, 8)]
