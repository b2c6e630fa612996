"""BatchNorm layers kept in a plain Python list or dict attribute of a module: BN314.

``nn.Module.__setattr__`` registers a submodule only when the value *is* a module: a ``list``,
``tuple`` or ``dict`` of layers is stored as an ordinary attribute. ``Module.train()`` /
``Module.eval()`` walk ``self.children()``, ``state_dict()`` walks the registered modules and
buffers, ``parameters()`` the registered parameters, ``.to(device)`` the same. BatchNorm layers
held that way are therefore never switched: they stay in training mode for good, so evaluation
under ``model.eval()`` normalizes with batch statistics and folds the evaluation data into their
running statistics; their statistics are not saved with the model and their affine parameters are
not trained (measured on PyTorch 2.13). ``nn.ModuleList`` / ``nn.ModuleDict`` exist for exactly this.

A plain list that holds a *whole model* is a known idiom to hide it from registration (an EMA or
teacher copy, ``self._teacher = [teacher]``): only containers filled with layers constructed right
there (``nn.BatchNorm1d(d)``, ``nn.Sequential(..., nn.BatchNorm2d(c), ...)``, a project block that
builds BatchNorm) are reported.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import BN_CLASSES, PYTORCH_VERSIONS, _bn_classes, _uses_torch

_BN_NAME = re.compile(r"^(Sync)?BatchNorm[123]d$|^LazyBatchNorm[123]d$")
# Calls that register what they are given: a container wrapped later, or an explicit registration.
_REGISTERING = frozenset({"ModuleList", "ModuleDict", "Sequential", "ParameterList", "add_module", "register_module"})
_CONTAINER_ADDERS = frozenset({"append", "extend", "insert"})


@register
class BatchNormInPlainContainer(Rule):
    code = "BN314"
    name = "batchnorm-in-plain-container"
    framework = "pytorch"
    severity = "error"
    summary = ("BatchNorm layers stored in a plain list / dict attribute of an nn.Module are not submodules: "
               "eval() never reaches them, state_dict() does not save their statistics.")
    triggers = ("BatchNorm",)
    doc = RuleDoc(
        what="""
Finds an `nn.Module` that stores BatchNorm layers it builds in a plain Python container attribute:
`self.norms = [nn.BatchNorm1d(d) for d in dims]`, `self.norms = []` filled by
`self.norms.append(nn.BatchNorm1d(d))`, `self.heads = {"a": nn.Sequential(nn.Linear(8, 8),
nn.BatchNorm1d(8))}`, or a list of project blocks that build BatchNorm; and uses that attribute in
another method (the forward pass).
""",
        why="""
`nn.Module` registers an attribute as a submodule only when the value itself is a module. Layers
inside a list or dict are invisible to `model.train()` / `model.eval()`, `state_dict()`,
`parameters()` and `.to(device)`: the BatchNorm layers stay in training mode forever, so every
evaluation under `model.eval()` uses batch statistics and folds the evaluation data into their
running statistics; a saved checkpoint lacks their statistics (a reloaded model normalizes with
0 / 1), and the optimizer never sees their weight and bias.
""",
        example="""
class MLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.norms = [nn.BatchNorm1d(b) for b in dims[1:]]
""",
        use_instead="""
class MLP(nn.Module):
    def __init__(self, dims):
        super().__init__()
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:]))
        self.norms = nn.ModuleList(nn.BatchNorm1d(b) for b in dims[1:])
""",
        not_flagged="""
`nn.ModuleList` / `nn.ModuleDict` / `nn.Sequential`, a plain list wrapped into one later
(`self.norms = nn.ModuleList(norms)`), classes that register modules themselves (`add_module`,
`register_module`, `setattr(self, ...)`), a list that only refers to layers registered elsewhere
(`self.norms = [self.bn1, self.bn2]`), a list that hides a whole model passed in (an EMA or teacher
copy, `self._teacher = [teacher]`), classes that are not `nn.Module`s, containers never read
outside `__init__`, and unit tests.
""",
        versions=PYTORCH_VERSIONS + " Registration semantics checked on PyTorch 2.13.",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not module.mentions("BatchNorm") or not _uses_torch(module) \
                or is_test_file(project.relative_path(module)):
            return
        for cls in module.classes:
            if not _is_nn_module(cls) or _registers_itself(cls):
                continue
            for attr, node, kind in _plain_containers_of_bn(cls, module, project):
                if not _read_outside_init(cls, attr):
                    continue
                yield self.finding(
                    module, node,
                    f"`self.{attr}` holds BatchNorm layers in a plain {kind}: they are not submodules of "
                    f"`{cls.name}`, so `eval()` / `train()` never reach them (they stay in training mode and "
                    f"fold evaluation data into their running statistics), `state_dict()` does not save their "
                    f"statistics and `parameters()` does not give their weights to the optimizer. Use "
                    f"`nn.{'ModuleDict' if kind == 'dict' else 'ModuleList'}`.")


def _is_nn_module(cls: ast.ClassDef) -> bool:
    """A class derived from ``nn.Module`` (or another class named like a module / model / block /
    layer / network) that defines ``forward``."""
    defines_forward = any(isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name == "forward"
                          for st in cls.body)
    bases = [(dotted(b) or "").rsplit(".", 1)[-1] for b in cls.bases]
    return "Module" in bases or defines_forward and bool(bases)


def _registers_itself(cls: ast.ClassDef) -> bool:
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Call):
            name = (dotted(n.func) or "").rsplit(".", 1)[-1]
            if name in ("add_module", "register_module"):
                return True
            if name == "setattr" and n.args and isinstance(n.args[0], ast.Name) and n.args[0].id == "self":
                return True
    return False


def _builds_bn(expr: ast.AST, module: Module, project: Project) -> bool:
    """Does ``expr`` construct a BatchNorm layer, or a module that builds one (``nn.Sequential`` with a
    BN layer, a project block with BatchNorm)?"""
    classes = None
    for n in astwalk.walk(expr):
        if not isinstance(n, ast.Call):
            continue
        q = module.qualname(n.func) or ""
        last = (dotted(n.func) or "").rsplit(".", 1)[-1]
        if q in BN_CLASSES or _BN_NAME.match(last) and (q.startswith("torch.") or q == last):
            return True
        if classes is None:
            classes = _bn_classes(project)
        if last in classes and any(isinstance(d, ast.ClassDef) for d, _m in classes._candidates(last, module)[0]) \
                and classes.has_bn(last, module):
            return True
    return False


def _self_attr(target: ast.AST) -> Optional[str]:
    if isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self":
        return target.attr
    return None


def _plain_containers_of_bn(cls: ast.ClassDef, module: Module, project: Project) -> list[tuple[str, ast.AST, str]]:
    """(attribute, node to report, "list" / "dict" / "tuple") for each plain container attribute of
    the class that is filled with BatchNorm-building constructions and never wrapped or registered."""
    plain: dict[str, tuple[ast.AST, str]] = {}  # attribute -> (its assignment, kind)
    filled: dict[str, ast.AST] = {}  # attribute -> first construction that puts BN in it
    wrapped: set[str] = set()
    for n in astwalk.walk(cls):
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                attr = _self_attr(t)
                if attr is None:
                    continue
                kind = _plain_kind(n.value)
                if kind is None:
                    plain.pop(attr, None)  # rebound to something else (a ModuleList...): judged by that
                    wrapped.add(attr)
                    continue
                plain.setdefault(attr, (n, kind))
                if _builds_bn(n.value, module, project):
                    filled.setdefault(attr, n)
            # `self.norms["a"] = nn.BatchNorm1d(8)`
            for t in targets:
                if isinstance(t, ast.Subscript) and _self_attr(t.value) and _builds_bn(n.value, module, project):
                    filled.setdefault(_self_attr(t.value), n)  # type: ignore[arg-type]
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            owner = _self_attr(n.func.value)
            if owner is not None and n.func.attr in _CONTAINER_ADDERS | {"update", "setdefault"} \
                    and any(_builds_bn(a, module, project) for a in [*n.args, *(k.value for k in n.keywords)]):
                filled.setdefault(owner, n)
        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)) \
                and (dotted(n.func) or "").rsplit(".", 1)[-1] in _REGISTERING:
            wrapped.update(a for arg in n.args for x in astwalk.walk(arg) if (a := _self_attr(x)))
    out = []
    for attr, (assign, kind) in plain.items():
        if attr in filled and attr not in wrapped:
            out.append((attr, filled[attr], kind))
    return out


def _plain_kind(value: ast.AST) -> Optional[str]:
    if isinstance(value, (ast.List, ast.ListComp)):
        return "list"
    if isinstance(value, (ast.Dict, ast.DictComp)):
        return "dict"
    if isinstance(value, ast.Tuple):
        return "tuple"
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id in ("list", "dict", "tuple") \
            and len(value.args) <= 1:
        return value.func.id
    return None


def _read_outside_init(cls: ast.ClassDef, attr: str) -> bool:
    for st in cls.body:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name != "__init__":
            for n in astwalk.walk(st):
                if isinstance(n, ast.Attribute) and n.attr == attr and isinstance(n.ctx, ast.Load) \
                        and isinstance(n.value, ast.Name) and n.value.id == "self":
                    return True
    return False
