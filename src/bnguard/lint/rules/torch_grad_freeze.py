"""A BatchNorm layer "frozen" through ``requires_grad`` alone, then trained: BN312.

``requires_grad = False`` only keeps the optimizer away from a layer's *parameters* (a BatchNorm
layer's ``weight`` and ``bias``). A BatchNorm layer's running mean and variance are *buffers*: its
``forward`` overwrites them with every batch it sees while ``self.training`` is true, whatever the
parameters' ``requires_grad`` says (``F.batch_norm(..., training=self.training or not
self.track_running_stats, momentum=self.momentum)``). A layer that the program picked out as a
BatchNorm layer (``model.bn``, ``isinstance(m, nn.BatchNorm2d)`` in a ``modules()`` loop, a helper
``model.apply``-ed to BatchNorm layers) and froze that way, but never put in eval mode, keeps
updating its statistics from the fine-tuning data as soon as the model it belongs to is trained
(chemprop PR #952: the ``--freeze-encoder`` BatchNorm kept drifting until ``model.bn.eval()`` was
added). Measured on PyTorch 2.13.

Freezing a whole model or encoder by ``requires_grad`` is not this rule's business (feature
extraction, linear probes: BN308 covers the probe protocol): only a freeze whose *target* is
BatchNorm shows that the BatchNorm layer itself was meant to stay fixed.
"""
from __future__ import annotations

import ast
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file, is_unit_test
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import PYTORCH_VERSIONS, _flow, _own_nodes, _uses_torch
from bnguard.lint.torchflow import _SUBMODULE_ITERATORS, LOOP_TYPES, is_optimizer_step, mode_call, mode_parameter

_PARAMETER_ITERATORS = frozenset({"parameters", "named_parameters"})
_BN_NAME_WORDS = ("BatchNorm", "batchnorm", "batch_norm")
# Lightning hooks that run before (or at the start of) the training a LightningModule's
# ``training_step`` / a ``BaseFinetuning`` callback drives.
_TRAINING_HOOKS = frozenset({"__init__", "setup", "on_fit_start", "on_train_start", "on_train_epoch_start",
                             "configure_optimizers", "freeze_before_training", "finetune_function", "configure_model"})
_MAX_CALLER_DEPTH = 3


class _Freeze:
    """One BatchNorm-specific ``requires_grad`` freeze."""

    def __init__(self, node: ast.AST, text: str, scope, related: tuple[str, ...], loop_var: Optional[str] = None,
                 loop_body: Optional[ast.AST] = None):
        self.node = node  # the statement / call reported
        self.text = text  # how the message names the frozen layer(s)
        self.scope = scope  # enclosing function (None: module level)
        self.related = related  # dotted names whose eval() would freeze the statistics too
        self.loop_var = loop_var  # ``m`` of ``for m in model.modules(): if isinstance(m, BN): ...``
        self.loop_body = loop_body  # the statement under the BatchNorm test (its eval()/momentum count)


@register
class BatchNormFrozenByRequiresGradOnly(Rule):
    code = "BN312"
    name = "batchnorm-frozen-by-requires-grad-only"
    framework = "pytorch"
    severity = "error"
    summary = ("a BatchNorm layer frozen only with requires_grad = False (never put in eval mode) is then trained: "
               "its running statistics keep updating on every training batch.")
    triggers = ("requires_grad",)
    fact_triggers = (".step(", ".fit(", "optim", ".eval(", "def train", "BatchNorm", "track_running_stats")
    doc = RuleDoc(
        what="""
Finds a `requires_grad` freeze whose target is a BatchNorm layer itself — `model.bn.requires_grad_(False)`,
`model.bn.apply(lambda m: m.requires_grad_(False))`, `for p in self.bn1.parameters(): p.requires_grad = False`,
`bn.weight.requires_grad = False` with `bn.bias.requires_grad = False`, or `m.requires_grad_(False)` / both
`m.weight` and `m.bias` set so under
`isinstance(m, nn.BatchNorm2d)` (also `classname.find('BatchNorm') != -1`, a tuple of types that includes
BatchNorm, an `if not ...: continue` guard) in a `modules()` / `children()` loop or in a helper that
`model.apply(...)` runs — when that layer is never put in eval mode (no `eval()` of it, of its loop
variable, or of a module holding it after the freeze; no `train(mode)` override or `set_bn_eval` helper
in the project; no `momentum = 0` / `track_running_stats = False`) and the program then trains: an
optimizer step, `trainer.fit(...)`, or a project function that steps an optimizer runs after the freeze
(in the same function or, for a freeze inside a helper or a constructor, in its callers; a freeze in a
LightningModule's `__init__` / `setup` hook or a `BaseFinetuning.freeze_before_training` counts as trained
by its `training_step`). A layer counts as BatchNorm through its construction (`self.bn =
nn.BatchNorm1d(...)`, also `... if batch_norm else nn.Identity()`, in every class of the project that
sets that attribute).
""",
        why="""
`requires_grad = False` only stops the optimizer from changing the layer's `weight` and `bias`. The
running mean and variance are buffers, not parameters: in training mode `BatchNorm.forward` overwrites
them with every batch, whatever `requires_grad` says. The program singled out this BatchNorm layer to keep
it fixed (fine-tuning a pretrained encoder on a small or different dataset), yet its statistics drift
toward the fine-tuning batches and the checkpoint saves drifted ones: at inference the layer normalizes
with statistics that match neither the pretrained weights nor, often, the data (chemprop PR #952).
""",
        example="""
model = MPNN.load_from_file(checkpoint)
model.message_passing.apply(lambda m: m.requires_grad_(False))
model.bn.apply(lambda m: m.requires_grad_(False))   # self.bn = nn.BatchNorm1d(d)
trainer.fit(model, train_loader, val_loader)          # model.bn still in training mode
""",
        use_instead="""
model.bn.requires_grad_(False)
model.bn.eval()          # keep its running statistics fixed too
trainer.fit(model, train_loader, val_loader)   # Lightning >= 2.2 keeps sub-module modes

# a plain loop calls model.train() every epoch: re-apply it after each train(), or once in the model:
def train(self, mode=True):
    super().train(mode)
    self.bn.eval()
    return self
""",
        not_flagged="""
Freezes whose target is not BatchNorm-specific: a whole model or encoder (`model.requires_grad_(False)`,
the fine-tuning tutorial's feature extractor, linear probes: BN308's business), a loop that freezes
every layer but BatchNorm (`if not isinstance(m, nn.BatchNorm2d)`); one affine parameter pinned while the
other trains (the re-ID "BNNeck" `self.bottleneck.bias.requires_grad_(False)`, a scale held at 1: a choice
about that parameter, the layer still trains and tracks statistics); `requires_grad_(True)` on BatchNorm
(test-time adaptation such as TENT trains BN affine parameters in train mode on purpose); a freeze
together with `eval()` of the layer (BN308 judges whether a later `train()` undoes it), or followed by
`eval()` of the layer or of a module holding it; projects that put BatchNorm in eval mode through a
`train(mode)` override (mmdet `norm_eval`, CenterPoint) or an `apply(set_bn_eval)` helper; layers with
`momentum = 0` or `track_running_stats = False`; helpers nobody calls; freezes followed only by
evaluation (no optimizer step, no `fit`); a freeze undone again (`requires_grad = True` on the same
layers); unit tests.
""",
        versions=PYTORCH_VERSIONS + " Measured on PyTorch 2.13 (BatchNorm buffers update in train mode whatever "
                                    "requires_grad says).",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        for mod, node, message in _findings(project):
            if mod is module:
                yield self.finding(module, node, message)


# ------------------------------------------------------------------------------------------------
# the project-wide verdicts
# ------------------------------------------------------------------------------------------------
def _findings(project: Project) -> list[tuple[Module, ast.AST, str]]:
    def compute(p: Project):
        out: list[tuple[Module, ast.AST, str]] = []
        mods = [m for m in p.modules if "requires_grad" in m.unit.text and _uses_torch(m) and not is_test_file(m.path)]
        if not mods or _project_keeps_bn_in_eval(p):
            return out
        bn_attrs = _bn_attributes(p)
        for m in mods:
            done: set = set()
            for fz in _bn_freezes(m, p, bn_attrs):
                stmt = m.statement_of(fz.node) or fz.node
                # one finding per freeze: per loop / helper, per frozen attribute in a function
                if fz.loop_body is not None:
                    inside = any(x is fz.node for x in astwalk.walk(fz.loop_body))
                    key = ("loop", id(fz.loop_body)) if inside else ("apply", id(fz.node))
                else:
                    key = ("attr", id(fz.scope), fz.related[:1])
                if key in done or is_unit_test(m, fz.scope):
                    continue
                if _kept_fixed(m, fz, p) or _unfrozen_again(m, fz):
                    continue
                trained = _trained_after(m, fz.scope, stmt, set(fz.related), p, 0, frozenset())
                if trained is None:
                    continue
                done.add(key)
                tmod, tnode = trained
                out.append((m, fz.node, (
                    f"{fz.text[:1].upper() + fz.text[1:]} {'is a BatchNorm layer' if fz.loop_var is None else 'are'} "
                    f"frozen only through `requires_grad` and never put in eval mode: the optimizer leaves the "
                    f"weight and bias alone, but the training that follows ({tmod.where(tnode.lineno)}) runs "
                    f"{'it' if fz.loop_var is None else 'them'} in training mode, so the running mean and variance "
                    f"keep updating from every training batch and drift away from the statistics the freeze meant "
                    f"to keep. Also call `.eval()` on {'it' if fz.loop_var is None else 'them'} after every "
                    f"`train()` (or keep {'it' if fz.loop_var is None else 'them'} in eval mode in a `train()` "
                    f"override).")))
        return out

    return project.fact("torch.bn312", compute)


# ------------------------------------------------------------------------------------------------
# which freezes target BatchNorm
# ------------------------------------------------------------------------------------------------
def _false(node: Optional[ast.AST]) -> bool:
    return isinstance(node, ast.Constant) and node.value is False


def _requires_grad_setting(n: ast.AST) -> Optional[tuple[list[ast.AST], bool]]:
    """(the objects, whether the value set is the constant False) for ``x.requires_grad_(v)`` /
    ``x.requires_grad_(requires_grad=v)`` and ``x.requires_grad = v`` (``x`` for each such target);
    None for any other node."""
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "requires_grad_":
        arg = n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "requires_grad"), None)
        return [n.func.value], _false(arg)
    if isinstance(n, ast.Assign):
        objs = [t.value for t in n.targets if isinstance(t, ast.Attribute) and t.attr == "requires_grad"]
        if objs:
            return objs, _false(n.value)
    return None


def _requires_grad_false_call(n: ast.AST) -> bool:
    """``x.requires_grad_(False)`` / ``x.requires_grad_(requires_grad=False)``."""
    setting = _requires_grad_setting(n)
    return isinstance(n, ast.Call) and setting is not None and setting[1]


def _requires_grad_false_assign(n: ast.AST) -> list[ast.AST]:
    """The objects of ``x.requires_grad = False`` (``x`` for each such target)."""
    setting = _requires_grad_setting(n)
    return setting[0] if isinstance(n, ast.Assign) and setting is not None and setting[1] else []


def _strip_param(expr: ast.AST) -> ast.AST:
    """``bn.weight`` -> ``bn``: a parameter's layer."""
    if isinstance(expr, ast.Attribute) and expr.attr in ("weight", "bias"):
        return expr.value
    return expr


def _bn_class_name(expr: ast.AST) -> bool:
    last = (dotted(expr) or "").rsplit(".", 1)[-1]
    return ("BatchNorm" in last or last == "_NormBase") and "Frozen" not in last


def _selects_bn(test: ast.AST, var: set[str], pol: bool = True) -> bool:
    """Does the test (true when ``pol``) admit BatchNorm layers among the ``var`` it is true for,
    ruling out others? ``isinstance(m, nn.BatchNorm2d)``, ``isinstance(m, (nn.Conv2d, nn.BatchNorm2d))``,
    ``classname.find('BatchNorm') != -1``, ``'BatchNorm' in type(m).__name__``; with ``pol`` False the
    negations of these (``if not isinstance(m, BN): continue``)."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        return _selects_bn(test.operand, var, not pol)
    if isinstance(test, ast.BoolOp):
        # ``A and B`` true: both hold, one selecting BN suffices; ``A or B`` true: BN among them.
        # False: ``not A or not B`` / ``not A and not B`` - the same question on each operand.
        return any(_selects_bn(v, var, pol) for v in test.values)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and test.func.id == "isinstance" \
            and len(test.args) == 2 and isinstance(test.args[0], ast.Name) and test.args[0].id in var:
        types = test.args[1]
        elts = types.elts if isinstance(types, (ast.Tuple, ast.List)) else [types]
        return pol and any(_bn_class_name(e) for e in elts)
    if isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) and test.func.attr in ("startswith", "endswith") \
            and any(isinstance(a, ast.Constant) and isinstance(a.value, str) and any(w in a.value for w in _BN_NAME_WORDS)
                    for a in test.args):
        return pol and _reads(test, var)
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and _reads(test, var):
        op, left, right = test.ops[0], test.left, test.comparators[0]
        strings = [n.value for n in (left, right) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        if isinstance(op, (ast.In, ast.NotIn)) and strings and any(w in strings[0] for w in _BN_NAME_WORDS):
            return pol == isinstance(op, ast.In)
        if isinstance(op, (ast.Eq, ast.Is, ast.In, ast.NotEq, ast.IsNot, ast.NotIn)) and isinstance(left, ast.Call) \
                and isinstance(left.func, ast.Name) and left.func.id == "type":
            elts = right.elts if isinstance(right, (ast.Tuple, ast.List, ast.Set)) else [right]
            positive = isinstance(op, (ast.Eq, ast.Is, ast.In))
            return pol == positive and any(_bn_class_name(e) for e in elts)
        # ``classname.find('BatchNorm') != -1`` / ``> -1`` / ``>= 0`` (found); ``== -1`` (not found)
        if isinstance(left, ast.Call) and isinstance(left.func, ast.Attribute) and left.func.attr in ("find", "index") \
                and any(isinstance(a, ast.Constant) and isinstance(a.value, str) and any(w in a.value for w in _BN_NAME_WORDS)
                        for a in left.args) and isinstance(right, (ast.Constant, ast.UnaryOp)):
            if isinstance(op, (ast.NotEq, ast.Gt, ast.GtE)):
                return pol
            if isinstance(op, ast.Eq):
                return not pol
    return False


def _reads(node: ast.AST, var: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in var for n in astwalk.walk(node))


def _derived_names(loop: ast.AST, var: set[str]) -> set[str]:
    """``classname = m.__class__.__name__`` in the loop / helper: names computed from ``var``."""
    out = set(var)
    for st in astwalk.walk(loop):
        if isinstance(st, ast.Assign) and _reads(st.value, out):
            out |= {t.id for t in st.targets if isinstance(t, ast.Name)}
    return out


def _guarded_by_bn_test(module: Module, node: ast.AST, stop: ast.AST, var: set[str]) -> bool:
    """Is ``node`` (inside ``stop``) run only for BatchNorm layers bound to ``var``: under an ``if``
    selecting them, or after an ``if <not BN>: continue`` / ``return`` in the same body?"""
    child = node
    for a in module.ancestors(node):
        if isinstance(a, ast.IfExp) and child is not a.test and _selects_bn(a.test, var, child is a.body):
            return True  # ``lambda m: m.requires_grad_(False) if isinstance(m, nn.BatchNorm2d) else None``
        if isinstance(a, ast.If):
            if child in a.body and _selects_bn(a.test, var, True):
                return True
            if child in a.orelse and _selects_bn(a.test, var, False):
                return True
        for field in ("body", "orelse"):
            stmts = getattr(a, field, None)
            if isinstance(stmts, list) and child in stmts:
                for st in stmts[:stmts.index(child)]:
                    if isinstance(st, ast.If) and st.body and isinstance(st.body[-1], (ast.Continue, ast.Return)) \
                            and not st.orelse and _selects_bn(st.test, var, False):
                        return True
        if a is stop:
            return False
        child = a
    return False


def _iterator_loop(module: Module, name: str, node: ast.AST, iterators: frozenset) -> Optional[ast.For]:
    """The innermost ``for`` binding ``name`` around ``node`` (in the same function), when it runs
    over ``x.<iterator>()`` for one of ``iterators``; None when the loop binding it runs over anything
    else (``for m in list(model.modules())`` / ``[... for c in ...]`` are rare: not followed)."""
    for a in module.ancestors(node):
        if isinstance(a, (ast.For, ast.AsyncFor)) and name in {t.id for t in astwalk.walk(a.target) if isinstance(t, ast.Name)}:
            it = a.iter
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr in iterators:
                return a
            return None
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return None
    return None


def _submodule_loop(module: Module, name: str, node: ast.AST) -> Optional[ast.For]:
    """``for m in x.modules()`` (``named_modules``, ``children``...) binding ``name`` around ``node``."""
    return _iterator_loop(module, name, node, _SUBMODULE_ITERATORS)


def _parameter_loop(module: Module, name: str, node: ast.AST) -> Optional[ast.For]:
    """``for p in x.parameters(): p.requires_grad = False``: the loop binding ``name``."""
    return _iterator_loop(module, name, node, _PARAMETER_ITERATORS)


def _freeze_targets(module: Module) -> Iterable[tuple[ast.AST, ast.AST, Optional[ast.Lambda]]]:
    """(reported node, frozen layer expression, the ``lambda`` it runs in) for every ``requires_grad``
    freeze in ``module``: ``x.requires_grad_(False)``, ``x.weight.requires_grad = False``, ``for p in
    x.parameters(): p...`` -> ``x``; inside ``x.apply(lambda m: ...)`` the ``apply`` call is reported
    and the lambda comes along (its parameter is each sub-module of ``x``)."""
    if not any(c.name == "requires_grad_" and _requires_grad_false_call(c.node) for c in module.calls) \
            and not any(_requires_grad_false_assign(a) for a in module.assignments):
        return  # the indexes hold every call and assignment: no freeze here, no tree to walk
    settings: list[tuple[ast.AST, list[ast.AST]]] = []
    for n in astwalk.walk(module.tree):
        if _requires_grad_false_call(n):
            settings.append((n, [n.func.value]))  # type: ignore[attr-defined]
        else:
            objs = _requires_grad_false_assign(n)
            if objs:
                settings.append((n, objs))
    # A layer counts as frozen through its parameters only when both its ``weight`` and its ``bias``
    # are set to False in the same function: one of them alone (the re-ID "BNNeck"
    # ``bottleneck.bias.requires_grad_(False)``, a scale pinned at 1) is a choice about that
    # parameter, not a wish to keep the layer fixed.
    pinned = {(id(_function_of(module, n)), ast.dump(o.value), o.attr) for n, objs in settings for o in objs
              if isinstance(o, ast.Attribute) and o.attr in ("weight", "bias")}
    for n, objs in settings:
        for obj in objs:
            if isinstance(obj, ast.Attribute) and obj.attr in ("weight", "bias") and \
                    (id(_function_of(module, n)), ast.dump(obj.value), "bias" if obj.attr == "weight" else "weight") \
                    not in pinned:
                continue
            obj = _strip_param(obj)
            if isinstance(obj, ast.Name):
                loop = _parameter_loop(module, obj.id, n)
                if loop is not None:
                    obj = loop.iter.func.value  # type: ignore[attr-defined]
            lam = next((a for a in module.ancestors(n) if isinstance(a, (ast.Lambda, ast.FunctionDef,
                                                                         ast.AsyncFunctionDef))), None)
            if isinstance(lam, ast.Lambda) and isinstance(obj, ast.Name) and [a.arg for a in lam.args.args] == [obj.id]:
                call = module.parent(lam)
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "apply" \
                        and call.args and call.args[0] is lam:
                    yield call, obj, lam
                continue
            yield n, obj, None


def _function_of(module: Module, node: ast.AST) -> Optional[ast.AST]:
    """The innermost function or lambda holding ``node`` (None: module level)."""
    return next((a for a in module.ancestors(node) if isinstance(a, (ast.Lambda, ast.FunctionDef,
                                                                     ast.AsyncFunctionDef))), None)


def _bn_freezes(module: Module, project: Project, bn_attrs: set[str]) -> Iterable[_Freeze]:
    for node, obj, lam in _freeze_targets(module):
        scope = module.scope_of(node)
        if lam is not None:
            owner = dotted(node.func.value) or ""  # type: ignore[attr-defined]
            if _guarded_by_bn_test(module, obj, lam, {obj.id}):  # type: ignore[attr-defined]
                yield _Freeze(node, f"the BatchNorm layers of `{owner or 'the model'}`", scope,
                              (owner,) if owner else (), obj.id, lam)  # type: ignore[attr-defined]
                continue
            obj = node.func.value  # type: ignore[attr-defined]
        text = dotted(obj)
        if text is None:
            continue
        if isinstance(obj, ast.Name):
            # ``m`` of a modules() loop under a BatchNorm test
            loop = _submodule_loop(module, obj.id, node)
            if loop is not None:
                names = {t.id for t in astwalk.walk(loop.target) if isinstance(t, ast.Name)}
                if _guarded_by_bn_test(module, node, loop, _derived_names(loop, names)):
                    owner = dotted(loop.iter.func.value) or ""  # type: ignore[attr-defined]
                    yield _Freeze(node, f"the BatchNorm layers of `{owner or 'the model'}`", scope,
                                  (owner,) if owner else (), obj.id, loop)
                continue
            # ``def freeze(m): if isinstance(m, nn.BatchNorm2d): m.requires_grad_(False)`` applied by
            # ``model.apply(freeze)``
            fn = scope
            if fn is not None and [a.arg for a in fn.args.posonlyargs + fn.args.args] == [obj.id] \
                    and _guarded_by_bn_test(module, node, fn, _derived_names(fn, {obj.id})):
                for smod, call in _applications(module, project, fn):
                    owner = dotted(call.func.value) or ""  # type: ignore[attr-defined]
                    yield _Freeze(call, f"the BatchNorm layers of `{owner or 'the model'}` (`{fn.name}`)",
                                  smod.scope_of(call), (owner,) if owner else (), obj.id, fn)
                continue
            # ``bn = nn.BatchNorm2d(c)`` in the same scope
            if _local_bn(module, scope, obj.id):
                yield _Freeze(node, f"`{text}`", scope, (text,))
            continue
        if isinstance(obj, ast.Attribute) and obj.attr in bn_attrs:
            parents = tuple(text.rsplit(".", i)[0] for i in range(text.count(".") + 1))
            yield _Freeze(node, f"`{text}`", scope, parents)


def _applications(module: Module, project: Project, fn: ast.AST) -> list[tuple[Module, ast.Call]]:
    """``x.apply(fn)`` calls of the project (in the module defining ``fn`` or one importing it)."""
    out = []
    for site in project.call_sites("apply"):
        call = site.node
        if len(call.args) == 1 and isinstance(call.args[0], ast.Name) and call.args[0].id == fn.name \
                and isinstance(call.func, ast.Attribute) and \
                (site.module is module or fn.name in site.module.imports.aliases):  # type: ignore[attr-defined]
            out.append((site.module, call))
    return out


def _is_bn_value(value: ast.AST) -> Optional[bool]:
    """True for ``nn.BatchNorm1d(...)``; ``nn.BatchNorm1d(d) if bn else nn.Identity()`` too (the other
    branch holds no statistics); False for anything else."""
    if isinstance(value, ast.IfExp):
        sides = [_is_bn_value(value.body), _is_bn_value(value.orelse)]
        return any(sides) and all(s or _no_layer(v) for s, v in zip(sides, (value.body, value.orelse)))
    return isinstance(value, ast.Call) and _bn_class_name(value.func)


def _no_layer(value: ast.AST) -> bool:
    if isinstance(value, ast.Constant) and value.value is None:
        return True
    return isinstance(value, ast.Call) and (dotted(value.func) or "").rsplit(".", 1)[-1] == "Identity"


def _bn_attributes(project: Project) -> set[str]:
    """Attribute names that hold a BatchNorm layer wherever the project sets them (``self.bn =
    nn.BatchNorm1d(d)``), without ``track_running_stats=False`` / ``momentum=0`` (statistics that never
    move need no eval())."""
    good: set[str] = set()
    bad: set[str] = set()
    for m in project.modules:
        for n in m.assignments:  # every Assign / AnnAssign, indexed when the module was parsed
            if n.value is None:
                continue
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            for t in targets:
                if not isinstance(t, ast.Attribute):
                    continue
                if _is_bn_value(n.value) and not _fixed_statistics(n.value):
                    good.add(t.attr)
                else:
                    bad.add(t.attr)
    return good - bad


def _fixed_statistics(value: ast.AST) -> bool:
    for n in astwalk.walk(value):
        if isinstance(n, ast.Call):
            for k in n.keywords:
                if k.arg == "track_running_stats" and _false(k.value):
                    return True
                if k.arg == "momentum" and isinstance(k.value, ast.Constant) and k.value.value == 0:
                    return True
    return False


def _local_bn(module: Module, scope, name: str) -> bool:
    values = [n.value for n in _own_nodes(module, scope) if isinstance(n, ast.Assign)
              and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    return bool(values) and all(_is_bn_value(v) and not _fixed_statistics(v) for v in values)


# ------------------------------------------------------------------------------------------------
# is the layer kept fixed anyway?
# ------------------------------------------------------------------------------------------------
def _project_keeps_bn_in_eval(project: Project) -> bool:
    """Does the project put BatchNorm layers in eval mode on its own: a ``train(mode)`` override that
    calls ``eval()`` (mmdet ``norm_eval``), a loop / ``apply`` helper that calls ``m.eval()`` on the
    BatchNorm layers (``set_bn_eval``)? Then a requires_grad freeze beside it is part of that scheme."""
    def compute(p: Project) -> bool:
        for m in p.modules:
            if ".eval()" not in m.unit.text and ".train(False)" not in m.unit.text:
                continue
            for n in astwalk.walk(m.tree):
                if not (isinstance(n, ast.Call) and mode_call(n) == "eval"):
                    continue
                fn = m.scope_of(n)
                if fn is not None and fn.name == "train" and m.enclosing_class(fn) is not None \
                        and mode_parameter(fn) is not None:
                    return True  # an nn.Module ``train(mode)`` override, not a trainer's ``train(loader)``
                recv = n.func.value  # type: ignore[attr-defined]
                if not isinstance(recv, ast.Name):
                    continue
                loop = _submodule_loop(m, recv.id, n)
                if loop is not None:
                    names = {t.id for t in astwalk.walk(loop.target) if isinstance(t, ast.Name)}
                    if _guarded_by_bn_test(m, n, loop, _derived_names(loop, names)):
                        return True
                elif fn is not None and [a.arg for a in fn.args.posonlyargs + fn.args.args] == [recv.id] \
                        and _guarded_by_bn_test(m, n, fn, _derived_names(fn, {recv.id})) and _used(fn.name, p):
                    return True
        return False

    return project.fact("torch.bn312.keeps_bn_eval", compute)


def _used(name: str, project: Project) -> bool:
    """Is the function ``name`` called or handed to ``apply`` somewhere (an unused ``set_bn_eval``
    keeps nothing in eval mode)?"""
    if project.call_sites(name):
        return True
    return any(any(isinstance(a, ast.Name) and a.id == name for a in site.node.args)
               for site in project.call_sites("apply"))


def _kept_fixed(module: Module, fz: _Freeze, project: Project) -> bool:
    """An ``eval()`` of the frozen layer (or of its loop variable) beside the freeze, an ``eval()`` of
    the same attribute anywhere in the project, or ``momentum = 0`` / ``track_running_stats = False``
    / ``running_mean = None`` set on it."""
    region = fz.loop_body if fz.loop_body is not None else (fz.scope if fz.scope is not None else module.tree)
    target = fz.related[0] if fz.related else ""
    names = {fz.loop_var} if fz.loop_var else {target}
    for n in astwalk.walk(region):
        if isinstance(n, ast.Call) and mode_call(n) == "eval" and dotted(n.func.value) in names:  # type: ignore[attr-defined]
            return True
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Attribute) and dotted(t.value) in names and (
                        t.attr == "track_running_stats" and _false(n.value)
                        or t.attr == "momentum" and isinstance(n.value, ast.Constant) and n.value.value == 0
                        or t.attr in ("running_mean", "running_var") and isinstance(n.value, ast.Constant)
                        and n.value.value is None):
                    return True
    if fz.loop_var is None and "." in target:
        attr = target.rsplit(".", 1)[1]
        for m in project.modules:
            if attr not in m.unit.text:
                continue
            for n in astwalk.walk(m.tree):
                if isinstance(n, ast.Call) and mode_call(n) == "eval" and isinstance(n.func.value, ast.Attribute) \
                        and n.func.value.attr == attr:  # type: ignore[attr-defined]
                    return True
    return False


def _unfrozen_again(module: Module, fz: _Freeze) -> bool:
    """The same layers get ``requires_grad`` back in this module (staged unfreezing, a toggle)."""
    for n in astwalk.walk(module.tree):
        setting = _requires_grad_setting(n)
        if setting is None or setting[1]:
            continue  # not a requires_grad setting, or a freeze
        for obj in setting[0]:
            obj = _strip_param(obj)
            text = dotted(obj)
            if fz.loop_var is not None:
                if fz.loop_body is not None and any(x is n for x in astwalk.walk(fz.loop_body)):
                    return True
            elif fz.related and text == fz.related[0]:
                return True
    return False


# ------------------------------------------------------------------------------------------------
# is the model trained after the freeze?
# ------------------------------------------------------------------------------------------------
def _after(node: ast.AST, pos: ast.stmt, module: Module, site: Optional[ast.AST] = None) -> bool:
    """Does ``node`` run after the statement ``pos`` (later line, or in a loop holding both)? With the
    call ``site`` in ``pos``: a call of or on its result (``Trainer(net).fit(data)``, ``fit(Net())``) too."""
    if site is not None and isinstance(node, ast.Call) and node is not site \
            and any(x is site for x in astwalk.walk(node)):
        return True
    if node.lineno > (getattr(pos, "end_lineno", None) or pos.lineno):
        return True
    if node.lineno < pos.lineno:
        return any(isinstance(a, LOOP_TYPES) and any(x is pos for x in astwalk.walk(a)) for a in module.ancestors(node))
    return False


def _trained_after(module: Module, scope, pos: ast.stmt, related: set[str], project: Project, depth: int,
                   seen: frozenset, site: Optional[ast.AST] = None) -> Optional[tuple[Module, ast.AST]]:
    """The first training evidence after ``pos`` in ``scope`` or, when there is none there, after a
    call of ``scope`` in its callers: an optimizer step, ``x.fit(...)`` with arguments, a call of a
    project function that steps an optimizer. None as well when the layer is put in eval mode there
    first (``model.eval()`` of a module holding it, with no ``train()`` after)."""
    if scope is not None and id(scope) in seen:
        return None
    flow = _flow(project)
    evidence: Optional[ast.AST] = None
    evals: list[ast.Call] = []
    trains: list[ast.Call] = []
    for n in sorted((n for n in _own_nodes(module, scope) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)):
        if not _after(n, pos, module, site):
            continue
        kind = mode_call(n)
        if kind == "train" and (n.args or n.keywords) and evidence is None and _trains(n, module, scope, flow):
            evidence = n  # ``trainer.train(loader)``: a project method that steps, not ``nn.Module.train``
            continue
        if kind is not None:
            recv = dotted(n.func.value) or ""  # type: ignore[attr-defined]
            if not related or any(recv == r or r.startswith(recv + ".") for r in related if r):
                (evals if kind == "eval" else trains).append(n)
            continue
        if evidence is None and _trains(n, module, scope, flow):
            evidence = n
    if evidence is not None:
        for e in evals:
            if e.lineno < evidence.lineno or _same_loop(module, e, evidence):
                if not any(t.lineno > e.lineno or _same_loop(module, t, e) for t in trains):
                    return None  # eval() before the training and nothing switches it back
        return module, evidence
    if evals:
        return None
    if scope is None or depth >= _MAX_CALLER_DEPTH:
        return None
    info = flow.function_info.get(id(scope))
    cls = info.cls if info is not None else None
    if cls is not None and scope.name in _TRAINING_HOOKS:
        step = next((f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and f.name in ("training_step", "finetune_function")), None)
        if step is not None and scope.name != "finetune_function":
            return module, step
    seen = seen | {id(scope)}
    sites = []
    if cls is not None and scope.name == "__init__":
        for site in project.call_sites(cls.name):
            if site.module is module or cls.name in site.module.imports.aliases:
                sites.append(site)
    else:
        sites = [site for site, _unique in flow.callers_of(scope)]
    for site in sites:
        stmt = site.module.statement_of(site.node)
        if stmt is None:
            continue
        names = _site_names(site.module, site.node, stmt)
        found = _trained_after(site.module, site.scope, stmt, names, project, depth + 1, seen, site.node)
        if found is not None:
            return found
    return None


def _site_names(module: Module, call: ast.Call, stmt: ast.stmt) -> set[str]:
    """The objects a call hands the frozen layers through: its receiver, its arguments, the name it
    is assigned to."""
    out: set[str] = set()
    exprs = list(call.args) + [k.value for k in call.keywords]
    if isinstance(call.func, ast.Attribute):
        exprs.append(call.func.value)
    if isinstance(stmt, ast.Assign):
        exprs.extend(stmt.targets)
    for e in exprs:
        text = dotted(e)
        if text:
            out.add(text)
    return out


def _same_loop(module: Module, a: ast.AST, b: ast.AST) -> bool:
    loops_a = [x for x in module.ancestors(a) if isinstance(x, LOOP_TYPES)]
    return any(any(x is b for x in astwalk.walk(lp)) for lp in loops_a)


def _trains(call: ast.Call, module: Module, scope, flow) -> bool:
    if is_optimizer_step(call, module):
        return True
    f = call.func
    cands, _unique = flow.resolve(module, call, scope)
    if not cands and isinstance(f, ast.Attribute) and f.attr == "fit" and (call.args or call.keywords):
        return True  # trainer.fit(model, loader): a library trainer
    return any(flow.may_produce("step", c.node, c.module) or _steps(c.node) for c in cands[:4])


def _steps(fn: ast.AST) -> bool:
    return any(isinstance(n, ast.Call) and is_optimizer_step(n) for n in astwalk.walk(fn))
