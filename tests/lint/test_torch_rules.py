"""BN301-BN316 on realistic programs: every ``# expect: BN3xx`` marker must be reported on its line,
and nothing else (clean programs carry no marker, so any BN3xx finding fails them).

A case is a ``.py`` file or a folder (a multi-file project: validation in another module...).
"""
from __future__ import annotations

import pytest

from _torch_cases import CODES, cases, expected_markers, reported


ALL = [(code, kind, p) for code in CODES for kind in ("flagged", "clean") for p in cases(code, kind)]


@pytest.mark.parametrize("code,kind,case", ALL, ids=[f"{c}-{k}-{p.stem}" for c, k, p in ALL])
def test_case(code, kind, case):
    expected = expected_markers(case)
    if kind == "flagged":
        assert any(e[2] == code for e in expected), f"flagged case without a {code} marker"
    else:
        assert not expected
    assert reported(case) == expected


@pytest.mark.parametrize("code", CODES)
def test_each_rule_has_six_flagged_and_six_clean_programs(code):
    assert len(cases(code, "flagged")) >= 6
    assert len(cases(code, "clean")) >= 6


@pytest.mark.parametrize("case,code", [
    ("BN301/flagged/inline_eval_after_epoch.py", "BN301"),
    ("BN301/flagged/train_false_flag.py", "BN301"),
    ("BN304/flagged/literal_momentum.py", "BN304"),
    ("BN304/flagged/sync_bn_positional.py", "BN304"),
])
def test_fix_removes_the_finding_and_keeps_the_file_valid(case, code, tmp_path):
    import ast

    from bnguard.lint.engine import lint_paths
    from bnguard.lint.fix import apply_edits

    from _torch_cases import FIXTURES

    src = (FIXTURES / case).read_text()
    target = tmp_path / "program.py"
    target.write_text(src)
    findings = [f for f in lint_paths([str(target)], select=["BN3"]).findings if f.code == code]
    assert findings and all(f.fix is not None for f in findings)
    fixed, applied = apply_edits(src, [(f, f.fix) for f in findings])
    assert applied
    ast.parse(fixed)
    target.write_text(fixed)
    assert not [f for f in lint_paths([str(target)], select=["BN3"]).findings if f.code == code]
    if code == "BN304":
        assert "momentum=0.01" in fixed or ", 0.1)" in fixed
    else:
        assert ".train()\n" in fixed


@pytest.mark.parametrize("code,kind,case", ALL, ids=[f"{c}-{k}-{p.stem}" for c, k, p in ALL])
def test_prefilter_keeps_every_finding(code, kind, case):
    """``bnguard check`` parses only relevant files and gates rules by their triggers: the verdict
    must not change (a report site in a file without the trigger words would be lost)."""
    import pathlib

    from bnguard.lint.runner import CheckOptions, check_paths

    result = check_paths([str(case)], CheckOptions(select=["BN3"], prefilter=True, jobs=1))
    assert {(pathlib.Path(f.path).name, f.line, f.code) for f in result.findings} == expected_markers(case)


def test_bn306_names_the_remedy_that_fits_the_averaging():
    """A hand-written Polyak / EMA update is fixed in its own loop (copy the buffers there); an
    ``AveragedModel`` is fixed by ``update_bn`` or ``use_buffers=True``."""
    from bnguard.lint.engine import lint_paths

    from _torch_cases import FIXTURES

    soft = FIXTURES / "BN306" / "flagged" / "soft_update_helper"
    swa = FIXTURES / "BN306" / "flagged" / "swa_no_update_bn.py"
    [hand] = [f for f in lint_paths([str(soft)], select=["BN306"]).findings]
    assert "utils.py:3" in hand.message and ".buffers()" in hand.message and "use_buffers" not in hand.message
    [averaged] = [f for f in lint_paths([str(swa)], select=["BN306"]).findings]
    assert "use_buffers=True" in averaged.message and ".buffers()" not in averaged.message


def test_optimizer_class_attribute_given_params_trains_what_it_is_given(tmp_path):
    """``self.optimizer_cls(params=[delta], lr=...)`` (an optimizer class held in an attribute, ART's
    attacks) updates ``delta``, not every model of the object; ``self.build_optimizer()`` stays unknown."""
    import ast

    from bnguard.lint.engine import parse_unit, load_source
    from bnguard.lint.project import Project
    from bnguard.lint.rules.torch import _optimizers

    src = tmp_path / "attack.py"
    src.write_text(
        "import torch\n"
        "class Attack:\n"
        "    def run(self, x):\n"
        "        delta = torch.zeros_like(x, requires_grad=True)\n"
        "        fit_delta = self.optimizer_cls(params=[delta], lr=0.1)\n"
        "        tune_net = self.optimizer_cls(params=self.net.parameters(), lr=0.1)\n"
        "        built = self.build_optimizer()\n")
    project = Project([parse_unit(load_source(str(src)))])
    records = {r[2]: r[3] for r in _optimizers(project).records}
    assert records["fit_delta"] == set()
    assert records["tune_net"] == {"net"}
    assert records["built"] == {"*"}


def test_module_mode_switch_is_not_resolved_to_a_same_named_method_it_cannot_bind(monkeypatch):
    """``self.net.train()`` in a class whose own ``train(self, task, ctx, stop)`` takes arguments is the
    Module mode switch: the flow must not follow that method (it would see the method's validation
    as an eval() of ``self.net.net``)."""
    import bnguard.lint.rules.torch as torch_rules
    from _torch_cases import FIXTURES
    from bnguard.lint.engine import lint_paths

    texts: list[str] = []
    roots = torch_rules._roots

    def recording(project):
        for m, events in roots(project):
            texts.extend(e.text for e in events)
            yield m, events

    monkeypatch.setattr(torch_rules, "_roots", recording)
    result = lint_paths([str(FIXTURES / "BN301" / "clean" / "learner_task_method_named_train.py")], select=["BN301"])
    assert not result.findings
    assert texts and not any(t.endswith("net.net") for t in texts)


def _project_of(*folders):
    from bnguard.lint.engine import load_source, parse_unit
    from bnguard.lint.project import Project

    return Project([parse_unit(load_source(str(p))) for folder in folders for p in sorted(folder.glob("*.py"))])


def test_only_construction_sites_make_a_class_build_dynamically():
    """A helper a class only computes with (an inspector formatting annotations with getattr) builds
    no layer of it; a norm layer picked with ``getattr(nn, norm)(dim)`` in ``__init__`` does."""
    from bnguard.lint.rules.torch import _bn_classes

    from _torch_cases import FIXTURES

    for folder, dynamic in ((FIXTURES / "BN303" / "clean" / "graph_layers_with_annotation_formatter", False),
                            (FIXTURES / "bn_index" / "graph_layers_pick_norm_by_name", True)):
        project = _project_of(folder)
        module = next(m for m in project.modules if m.path.endswith("layers.py"))
        index = _bn_classes(project)
        assert index.has_bn("GraphRegressor", module) is False
        assert index.builds_dynamically("GraphRegressor", module) is dynamic, folder.name


def test_library_model_verdicts_from_normalization_arguments_and_torchscript(tmp_path):
    """``norm="instance"`` / ``norm=None`` on a library model: no BN; ``norm="batch"`` / ``Norm.BATCH``:
    BN; a MONAI / torch_geometric model with a non-batch default: no BN unless asked; a TorchScript
    program (``torch.jit.load``) needs no eval(); an unknown library model stays unknown."""
    import ast

    from bnguard.lint.rules.torch import _call_verdicts

    src = tmp_path / "models.py"
    src.write_text(
        "import torch\n"
        "from monai.networks.nets import UNETR, UNet, GlobalNet\n"
        "from monai.networks.layers import Norm\n"
        "from torch_geometric.nn.models import GCN\n"
        "from segkit import Segmenter\n"
        "a = Segmenter(3, norm_name='instance')\n"
        "b = Segmenter(3, norm=None)\n"
        "c = Segmenter(3, norm=('BATCH', {}))\n"
        "d = Segmenter(3)\n"
        "e = UNETR(in_channels=1, out_channels=2, img_size=96)\n"
        "f = UNet(3, 1, 2, (8, 16), (2,), norm=Norm.BATCH)\n"
        "g = GCN(16, 32, 2, 7)\n"
        "h = GCN(16, 32, 2, 7, norm='batch_norm')\n"
        "i = GlobalNet(image_size=(64, 64), spatial_dims=2, in_channels=2, num_channel_initial=16, depth=3)\n"
        "j = torch.jit.load('m.ts')\n"
        "k = UNet(3, 1, 2, (8, 16), (2,), norm=norm_choice)\n")
    project = _project_of(tmp_path)
    module = project.modules[0]
    got = {n.targets[0].id: _call_verdicts(n.value, module, project, 0)
           for n in module.tree.body if isinstance(n, ast.Assign)}
    assert got == {"a": [False], "b": [False], "c": [True], "d": [None], "e": [False], "f": [True],
                   "g": [False], "h": [True], "i": [None], "j": [False], "k": [None]}
