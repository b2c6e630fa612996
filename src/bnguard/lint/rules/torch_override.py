"""PyTorch ``train(mode)`` overrides that never switch the module: BN311.

``nn.Module.eval()`` is ``self.train(False)``, and ``nn.Module.train(mode)`` sets ``self.training``
and then calls ``child.train(mode)`` on every child: the mode reaches a BatchNorm layer only
through the ``train()`` method of each module above it. A subclass that overrides ``train(mode)``
(to re-apply ``norm_eval`` / ``frozen_stages`` / a BN freeze after every switch, the mmdet
backbone idiom) and forgets ``super().train(mode)`` cuts that chain: its own ``training`` flag and
every layer below it keep the mode they were built in (training), whatever ``model.eval()`` /
``model.train()`` the program calls on it or on any module holding it — only the layers the
override switches itself change (measured on PyTorch 2.13: ``detector.eval()`` leaves the
backbone's BatchNorm layers in training mode and validation batches enter their running
statistics).
"""
from __future__ import annotations

import ast
from types import SimpleNamespace
from typing import Iterable

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.project import Module, Project, is_test_file
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import PYTORCH_VERSIONS, _bn_classes, _is_module_class, _uses_torch
from bnguard.lint.torchflow import hands_on_mode, mode_parameter

# library bases that are ``nn.Module`` subclasses themselves (``class Backbone(nn.Sequential)``,
# ``class MyResNet(torchvision.models.ResNet)``)
_MODULE_BASE_PREFIXES = ("torch.nn.", "torchvision.models.", "timm.models.")


@register
class TrainOverrideDropsMode(Rule):
    code = "BN311"
    name = "train-override-drops-mode"
    framework = "pytorch"
    severity = "error"
    summary = ("an nn.Module's train(mode) override never calls super().train(mode): eval() of the module, "
               "or of any module holding it, leaves its BatchNorm layers in training mode.")
    triggers = ("def train",)
    doc = RuleDoc(
        what="""
Finds a `train(self, mode=True)` method of an `nn.Module` subclass that builds BatchNorm layers,
where the override reads `mode` (it means to follow the switch: `if mode and self.norm_eval: ...`)
but never hands it on: no `super().train(mode)` / `nn.Module.train(self, mode)` / `Base.train(self,
mode)`, no `self.training = ...`, no `child.train(mode)`, and `mode` passed to no other call.
""",
        why="""
`model.eval()` is `model.train(False)`, and `nn.Module.train` reaches the layers below a module
only by calling each child's `train()`. An override that does not call `super().train(mode)`
stops the switch at that module: its own `training` flag and all its BatchNorm layers stay in the
mode they were built in (training), so every `model.eval()` before validation or inference
leaves them normalizing with batch statistics and folding the evaluated data into their running
statistics (and `model.train()` after a freeze does not switch them back either).
""",
        example="""
class Backbone(nn.Module):
    def train(self, mode=True):
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self
""",
        use_instead="""
class Backbone(nn.Module):
    def train(self, mode=True):
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.eval()
        return self
""",
        not_flagged="""
Overrides that call `super().train(...)` / `nn.Module.train(self, ...)` anywhere (also in one
branch), set `self.training`, switch children with the mode (`for m in self.children():
m.train(mode)`) or pass `mode` to a helper; overrides that ignore `mode` altogether (`def train(self,
mode=True): return self`, the deliberate "keep this frozen module in eval mode" idiom); `train`
methods whose first argument is no mode flag (a trainer's `train(self, loader, epochs)`); classes
without BatchNorm in the project; unit tests.
""",
        versions=PYTORCH_VERSIONS + " Measured on PyTorch 2.13 (nn.Module.train / eval dispatch).",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if "def train" not in module.unit.text or not _uses_torch(module) or is_test_file(module.path):
            return
        for cls in module.classes:
            fn = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "train"), None)
            if fn is None:
                continue
            mode = mode_parameter(fn)
            if mode is None or not _reads(fn, mode) or hands_on_mode(fn, mode):
                continue
            if not _module_class(cls, module, project) or not _bn_classes(project).definition_has_bn(cls, module, cls.name):
                continue
            site = SimpleNamespace(lineno=fn.lineno, col_offset=fn.col_offset, end_lineno=fn.lineno,
                                   end_col_offset=fn.col_offset + len("def train"))
            yield self.finding(module, site, (
                f"`{cls.name}.train({mode})` overrides `nn.Module.train` without calling `super().train({mode})`: "
                f"`eval()` / `train()` of a `{cls.name}` (or of any module holding one) no longer reaches its "
                f"BatchNorm layers, which stay in training mode and fold every evaluated batch into their "
                f"running statistics."))


def _module_class(cls: ast.ClassDef, module: Module, project: Project) -> bool:
    if _is_module_class(cls, module, project):
        return True
    return any((module.qualname(b) or "").startswith(_MODULE_BASE_PREFIXES) for b in cls.bases)


def _reads(fn: ast.FunctionDef, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in astwalk.walk(fn))
