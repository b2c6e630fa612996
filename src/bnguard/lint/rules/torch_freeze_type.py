"""A BatchNorm freeze whose ``isinstance`` test matches no BatchNorm class the project builds: BN316.

``isinstance(m, nn.BatchNorm2d)`` is true for ``BatchNorm2d`` and its subclasses only:
``BatchNorm1d``, ``BatchNorm3d`` and ``SyncBatchNorm`` are siblings under ``_BatchNorm``, not
subclasses of ``BatchNorm2d`` (PyTorch 2.13 ``torch/nn/modules/batchnorm.py``). A freeze loop
``for m in net.modules(): if isinstance(m, nn.BatchNorm2d): m.eval()`` run over a model built from
``BatchNorm1d`` layers (a 1-D signal / sequence / tabular encoder) switches nothing: every layer
stays in training mode and the pretrained running statistics drift during fine-tuning.
"""
from __future__ import annotations

import ast
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.project import Module, Project, is_test_file
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import PYTORCH_VERSIONS, _uses_torch

# the concrete torch BatchNorm classes and the classes an isinstance test on each one matches
# (LazyBatchNormNd becomes BatchNormNd at its first call)
_CONCRETE = {"BatchNorm1d": "BatchNorm1d", "BatchNorm2d": "BatchNorm2d", "BatchNorm3d": "BatchNorm3d",
             "SyncBatchNorm": "SyncBatchNorm", "LazyBatchNorm1d": "BatchNorm1d",
             "LazyBatchNorm2d": "BatchNorm2d", "LazyBatchNorm3d": "BatchNorm3d"}
# where BatchNorm layers can come from without a `torch.nn.BatchNormXd` reference in the project
_MODEL_LIBRARIES = ("torchvision", "timm", "transformers", "segmentation_models_pytorch", "pretrainedmodels",
                    "efficientnet_pytorch", "mmcv", "mmdet", "mmseg", "mmengine", "detectron2", "monai",
                    "torch_geometric", "pytorchcv", "lightly", "torchaudio", "speechbrain", "fairseq",
                    "torch.hub", "torch.jit", "torch.fx", "apex", "inplace_abn", "spconv", "MinkowskiEngine")


def _bn_name(m: Module, node: ast.AST) -> Optional[str]:
    q = m.qualname(node) or ""
    if q.startswith("torch.nn.") and q.rsplit(".", 1)[-1] in _CONCRETE:
        return q.rsplit(".", 1)[-1]
    return None


def _tested_classes(test: ast.AST, var: str, m: Module) -> Optional[set[str]]:
    """``isinstance(var, nn.BatchNorm2d)`` / ``isinstance(var, (nn.BatchNorm2d, nn.BatchNorm3d))``:
    the torch BN classes tested (None when the test is anything else)."""
    if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance"
            and len(test.args) == 2 and isinstance(test.args[0], ast.Name) and test.args[0].id == var):
        return None
    kinds = test.args[1].elts if isinstance(test.args[1], ast.Tuple) else [test.args[1]]
    names = [_bn_name(m, k) for k in kinds]
    if not names or any(n is None for n in names):
        return None
    return {_CONCRETE[n] for n in names if n}


def _freeze_tests(m: Module) -> Iterable[tuple[ast.FunctionDef, ast.If, set[str]]]:
    """``for x in <expr>.modules(): if isinstance(x, <BN classes>): ... x.eval()`` in a function."""
    for fn in astwalk.walk(m.tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for loop in astwalk.walk(fn):
            if not (isinstance(loop, ast.For) and isinstance(loop.target, ast.Name)
                    and isinstance(loop.iter, ast.Call) and isinstance(loop.iter.func, ast.Attribute)
                    and loop.iter.func.attr == "modules"):
                continue
            var = loop.target.id
            for st in loop.body:
                if not isinstance(st, ast.If):
                    continue
                tested = _tested_classes(st.test, var, m)
                if tested and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                                  and c.func.attr == "eval" and isinstance(c.func.value, ast.Name)
                                  and c.func.value.id == var for b in st.body for c in astwalk.walk(b)):
                    yield fn, st, tested


def _project_bn(project: Project, component: frozenset) -> Optional[set[str]]:
    """The torch BN classes the project refers to outside isinstance tests (constructor calls,
    ``norm_layer=nn.BatchNorm1d``, subclass bases), or None when BN may come from elsewhere (a
    model library, a pickled or scripted model, a class picked by name)."""
    memo = project.facts.setdefault("torch.bn316_classes", {})  # type: ignore[arg-type]
    if component in memo:  # type: ignore[operator]
        return memo[component]  # type: ignore[index]
    built: Optional[set[str]] = set()
    for m in project.modules:
        if id(m) not in component or not _uses_torch(m):
            continue
        if m.imports.imports_any(*_MODEL_LIBRARIES) or "getattr(nn" in m.unit.text \
                or "getattr(torch.nn" in m.unit.text or "torch.load(" in m.unit.text and _loads_whole_model(m):
            built = None
            break
        if "BatchNorm" not in m.unit.text:
            continue
        tested: set[int] = set()
        for n in astwalk.walk(m.tree):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in ("isinstance", "issubclass") \
                    and len(n.args) == 2:
                tested.update(id(k) for k in astwalk.walk(n.args[1]))
        for n in astwalk.walk(m.tree):
            if isinstance(n, (ast.Attribute, ast.Name)) and id(n) not in tested:
                name = _bn_name(m, n)
                if name:
                    built.add(_CONCRETE[name])  # type: ignore[union-attr]
    memo[component] = built  # type: ignore[index]
    return built


def _loads_whole_model(m: Module) -> bool:
    """``net = torch.load(path)`` used as a module (``net.eval()``, ``net.modules()``, ``net(x)``): a
    pickled model whose BatchNorm classes the project text does not show."""
    loaded = {t.id for n in astwalk.walk(m.tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
              and (m.qualname(n.value.func) or "") == "torch.load" for t in n.targets if isinstance(t, ast.Name)}
    return bool(loaded) and any(
        isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id in loaded
        and n.attr in ("modules", "eval", "train", "apply", "children", "parameters", "to", "cuda", "named_modules")
        or isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in loaded
        for n in astwalk.walk(m.tree))


def _applied(fn: ast.FunctionDef, component: frozenset, project: Project) -> bool:
    """Is the freeze function called somewhere in its program?"""
    for mod in project.modules:
        if id(mod) not in component or not mod.mentions(fn.name):
            continue
        for c in astwalk.walk(mod.tree):
            if isinstance(c, ast.Call) and (isinstance(c.func, ast.Name) and c.func.id == fn.name
                                            or isinstance(c.func, ast.Attribute) and c.func.attr == fn.name):
                return True
            if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "apply" \
                    and any(isinstance(a, ast.Name) and a.id == fn.name for a in c.args):
                return True
    return False


@register
class BatchNormFreezeTypeMismatch(Rule):
    code = "BN316"
    name = "batchnorm-freeze-misses-bn-type"
    framework = "pytorch"
    severity = "error"
    summary = ("a BatchNorm freeze loop tests isinstance against BatchNorm classes the project never builds "
               "(nn.BatchNorm2d on a BatchNorm1d model): no layer is put in eval mode and the statistics keep updating.")
    triggers = ("isinstance",)
    doc = RuleDoc(
        what="""
Finds a BatchNorm freeze loop in a function (`for m in net.modules(): if isinstance(m, nn.BatchNorm2d):
m.eval()`, the `freeze_bn` / `norm_eval` helper) whose `isinstance` test names only concrete torch
BatchNorm classes, while every BatchNorm class the project builds (constructor calls, `norm_layer=`
values, subclass bases, in the modules its program imports or is imported by) is another one: `BatchNorm1d` layers frozen through
a `BatchNorm2d` test, `SyncBatchNorm` after `convert_sync_batchnorm` tested as `BatchNorm2d`. The
function must be called (or applied with `module.apply`).
""",
        why="""
`isinstance(m, nn.BatchNorm2d)` matches `BatchNorm2d` and its subclasses only; `BatchNorm1d`,
`BatchNorm3d` and `SyncBatchNorm` are sibling subclasses of `_BatchNorm`. The freeze then switches no
layer: after `model.train()` every BatchNorm keeps training mode, normalizes with batch statistics
and overwrites the pretrained running statistics the freeze was meant to keep.
""",
        example="""
encoder = nn.Sequential(nn.Conv1d(2, 8, 3), nn.BatchNorm1d(8), nn.ReLU())

def freeze_bn(module):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
""",
        use_instead="""
def freeze_bn(module):
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):   # every BatchNorm class
            m.eval()
""",
        not_flagged="""
Tests that name an abstract base (`_BatchNorm`, `_NormBase`) or a project class, or a tuple
holding at least one class the project builds; projects that build no torch BatchNorm class by name
or may get one elsewhere (a model library such as torchvision / timm / mmcv imported anywhere, a
class picked by name with `getattr(nn, ...)`, a whole pickled model from `torch.load`); freeze
functions never called; unit tests.
""",
        versions=PYTORCH_VERSIONS + " Class hierarchy of torch/nn/modules/batchnorm.py (2.13).",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not module.mentions("isinstance") or not module.mentions("modules") or "eval" not in module.unit.text \
                or "BatchNorm" not in module.unit.text or not _uses_torch(module) or is_test_file(module.path):
            return
        for fn, st, tested in _freeze_tests(module):
            component = project.import_component(module)
            built = _project_bn(project, component)
            if not built or built & tested or not _applied(fn, component, project):
                continue
            names = ", ".join(f"nn.{n}" for n in sorted(tested))
            have = ", ".join(f"nn.{n}" for n in sorted(built))
            yield self.finding(module, st.test, (
                f"`{fn.name}` puts only {names} layers in eval mode, but the project builds {have}: "
                f"isinstance matches none of them, no BatchNorm layer is frozen and their running statistics "
                f"keep updating in training mode."))
