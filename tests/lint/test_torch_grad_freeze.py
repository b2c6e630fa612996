"""BN312: a BatchNorm layer frozen by ``requires_grad`` alone (never put in eval mode), then trained.

The fixture programs live in the PyTorch layout (tests/lint/fixtures/torch/BN312/{flagged,clean}/,
also run by test_torch_rules.py with every other BN3xx rule enabled); here they are checked for
BN312 alone, with the rule's documentation, its pre-filter trigger, the test that picks BatchNorm
layers, and the real chemprop trees when this machine has them.
"""
from __future__ import annotations

import ast
import pathlib

import pytest

from _torch_cases import cases, expected_markers, reported

from bnguard.lint.engine import lint_paths

FLAGGED = cases("BN312", "flagged")
CLEAN = cases("BN312", "clean")


@pytest.mark.parametrize("case", FLAGGED, ids=[p.stem for p in FLAGGED])
def test_flagged(case):
    expected = expected_markers(case)
    assert any(code == "BN312" for _, _, code in expected)
    assert reported(case) == expected


@pytest.mark.parametrize("case", CLEAN, ids=[p.stem for p in CLEAN])
def test_clean(case):
    assert not expected_markers(case)
    assert reported(case) == set()


def test_enough_programs():
    assert len(FLAGGED) >= 6 and len(CLEAN) >= 6


def test_rule_documented_with_trigger():
    from bnguard.lint.rules.base import all_rules

    rule = all_rules()["BN312"]
    doc = rule.doc
    assert all(len(getattr(doc, f).strip()) > 40 for f in ("what", "why", "example", "use_instead",
                                                            "not_flagged", "versions"))
    assert rule.framework == "pytorch" and rule.summary and rule.triggers == ("requires_grad",)
    rendered = doc.render(rule)
    assert rendered.startswith("# BN312 batchnorm-frozen-by-requires-grad-only") and "## Not flagged" in rendered


def test_message_names_the_layer_and_the_training(tmp_path):
    src = (pathlib.Path(__file__).parent / "fixtures" / "torch" / "BN312" / "flagged"
           / "pretrained_input_norm_frozen_then_epoch_loop.py").read_text()
    target = tmp_path / "finetune.py"
    target.write_text(src)
    (f,) = [f for f in lint_paths([str(target)], select=["BN312"]).findings]
    assert "`net.input_norm`" in f.message and "finetune.py:28" in f.message and ".eval()" in f.message


def test_file_without_requires_grad_is_silent_and_prefiltered(tmp_path):
    """The trigger: with the freeze spelled `requires_grad_` removed, nothing is reported (and the
    pre-filter may skip the file)."""
    (tmp_path / "m.py").write_text(
        "import torch\nimport torch.nn as nn\n"
        "bn = nn.BatchNorm1d(4)\nmodel = nn.Sequential(nn.Linear(2, 4), bn)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for _ in range(3):\n    opt.zero_grad(); model(torch.randn(8, 2)).sum().backward(); opt.step()\n")
    assert not lint_paths([str(tmp_path)], select=["BN312"]).findings


@pytest.mark.parametrize("test,selects", [
    ("isinstance(m, nn.BatchNorm2d)", True),
    ("isinstance(m, (nn.Conv2d, nn.BatchNorm2d))", True),
    ("isinstance(m, nn.modules.batchnorm._BatchNorm)", True),
    ("isinstance(m, nn.Conv2d)", False),
    ("not isinstance(m, nn.BatchNorm2d)", False),
    ("isinstance(m, FrozenBatchNorm2d)", False),
    ("classname.find('BatchNorm') != -1", True),
    ("classname.find('BatchNorm') == -1", False),
    ("'BatchNorm' in classname", True),
    ("'BatchNorm' not in classname", False),
    ("type(m) == nn.BatchNorm1d", True),
    ("type(m) != nn.BatchNorm1d", False),
    ("isinstance(m, nn.BatchNorm2d) and m.affine", True),
])
def test_batchnorm_selection(test, selects):
    from bnguard.lint.rules.torch_grad_freeze import _selects_bn

    assert _selects_bn(ast.parse(test, mode="eval").body, {"m", "classname"}) is selects


def test_continue_guard_polarity():
    """``if not isinstance(m, (Conv, BN)): continue`` keeps BN; ``if isinstance(m, BN): continue`` skips it."""
    from bnguard.lint.rules.torch_grad_freeze import _selects_bn

    keeps = ast.parse("not isinstance(m, nn.Conv2d) and not isinstance(m, nn.BatchNorm2d)", mode="eval").body
    skips = ast.parse("isinstance(m, nn.BatchNorm2d)", mode="eval").body
    assert _selects_bn(keeps, {"m"}, False) and not _selects_bn(skips, {"m"}, False)


CHEMPROP = pathlib.Path("/tmp/review25")


@pytest.mark.skipif(not (CHEMPROP / "chemprop__chemprop-pre").is_dir(), reason="review trees not on this machine")
def test_chemprop_pr952_pre_flagged_post_silent():
    pre = lint_paths([str(CHEMPROP / "chemprop__chemprop-pre")], select=["BN312"]).findings
    post = lint_paths([str(CHEMPROP / "chemprop__chemprop-post")], select=["BN312"]).findings
    assert [(pathlib.Path(f.path).name, f.line) for f in pre] == [("train.py", 1007)]
    assert post == []


def test_one_affine_parameter_pinned_is_not_a_freeze(tmp_path):
    """review 35 (mangye16/ReID-Survey BNNeck): a bias-only or a weight-only pin leaves the layer
    training; pinning both parameters of the same layer is still a freeze."""
    head = ("import torch\nimport torch.nn as nn\n"
            "class Neck(nn.Module):\n"
            "    def __init__(self):\n"
            "        super().__init__()\n"
            "        self.neck = nn.BatchNorm1d(8)\n"
            "        {pins}\n"
            "    def forward(self, x):\n        return self.neck(x)\n"
            "def fit(batches):\n    m = Neck()\n    opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
            "    for x in batches:\n        opt.zero_grad(); m(x).sum().backward(); opt.step()\n")
    for pins, flagged in [("self.neck.bias.requires_grad_(False)", False),
                          ("self.neck.weight.requires_grad = False", False),
                          ("self.neck.weight.requires_grad = self.neck.bias.requires_grad = False", True),
                          ("self.neck.bias.requires_grad_(False); self.neck.weight.requires_grad_(False)", True)]:
        (tmp_path / "neck.py").write_text(head.format(pins=pins))
        found = lint_paths([str(tmp_path)], select=["BN312"]).findings
        assert bool(found) is flagged, pins
