"""BatchNorm folded into the convolutions of a model in place, and that model trained on: BN315.

Conv-BN fusion (``torch.ao.quantization.fuse_modules``, ``torch.nn.utils.fuse_conv_bn_eval``, the
``fuse()`` methods of detection repositories that fold ``m.bn`` into ``m.conv`` and drop it) is an
inference transformation: the folded convolution applies the BatchNorm's *current* running
statistics and affine parameters as constants, and the BatchNorm module is replaced by
``nn.Identity`` (or deleted). ``fuse_modules(model, groups, inplace=True)`` does that to ``model``
itself (the default ``inplace=False`` fuses a deep copy), as does assigning the fused layer back
into the model (``model.conv1 = fuse_conv_bn_eval(model.conv1, model.bn1)``). When that model is
trained afterwards (a latency / FLOPs / export probe run inside the epoch loop, a fusion before a
fine-tuning stage), the rest of the training runs without BatchNorm: the BatchNorm layers no longer
see a batch, their running statistics stay at the values of the fusion, the network trains without
normalization (measured on PyTorch 2.13: ``num_batches_tracked`` stops at the fusion step).
``torch.fx.experimental.optimization.fuse(model, inplace=True)`` leaves the original's modules in
place (it rewrites a traced copy): only its result, rebound to the trained name, is concerned.

Quantization-aware training (``fuse_modules_qat``, ``prepare_qat``) fuses on purpose and keeps
BatchNorm in the fused QAT modules: files that mention QAT are not judged.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file, is_unit_test
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.torch import PYTORCH_VERSIONS, _flow, _optimizers, _uses_torch
from bnguard.lint.rules.torch_export import _holds_bn, _passed_bn, _where
from bnguard.lint.torchflow import LOOP_TYPES, _params, receiver_key

_FUSE_WORD = re.compile(r"fuse|fold", re.I)
_QAT = re.compile(r"qat|QAT|quantization_aware")
# a layer argument that names a BatchNorm (``m.bn``, ``self.bn1``, ``block.norm``, ``bn``)
_BN_ARG = re.compile(r"(?i)(^|_)(bn\d*|batch_?norm\d*|norm\d*)$")
_TORCH_FOLDS = ("fuse_conv_bn_eval", "fuse_linear_bn_eval")
_NOT_FUSERS = frozenset({"__init__", "forward", "__call__"})
# ``if epoch == epochs - 1`` / ``if is_last:``: a fusion on the last iteration only
_LAST_ITERATION = re.compile(r"(?i)epochs|num_|max_|total|len\(|last|final|end|-\s*1\b")


@register
class BatchNormFusedInPlaceThenTrained(Rule):
    code = "BN315"
    name = "batchnorm-fused-in-place-then-trained"
    framework = "pytorch"
    severity = "error"
    summary = ("BatchNorm folded into the convolutions of the model itself (fuse_modules(..., inplace=True), "
               "a fused layer assigned back, a fuse() method) and that model trained afterwards: the rest of "
               "the training runs without BatchNorm, its statistics stay at the values of the fusion.")
    triggers = ("fuse", "fold", "Fuse", "Fold")
    fact_triggers = (".step(", "optim")
    doc = RuleDoc(
        what="""
Finds a conv-BN fusion applied to the model object itself:
- `torch.ao.quantization.fuse_modules(model, groups, inplace=True)` (also `torch.quantization`);
- a fused layer assigned back into the model: `model.conv1 = fuse_conv_bn_eval(model.conv1, model.bn1)`,
  `m.conv = fuse_conv_and_bn(m.conv, m.bn)` in a walk over `model.modules()` (the `fuse()` method of
  detection repositories), `setattr(model, name, fold_bn(conv, bn))`;
- the fused model rebound to the trained name: `model = fuse_modules(model, groups)`,
  `model = torch.fx.experimental.optimization.fuse(model)`;
directly or in a helper that receives the model (a latency / FLOPs probe, an export step, the
model's own `fuse()` / `fuse_model()` method), when the same model is trained afterwards: an optimizer
over its parameters steps after the fusion, or in a later iteration of the loop that fuses it
(a probe logged after the first epoch).
""",
        why="""
Fusion folds the BatchNorm's current running statistics and affine parameters into the preceding
convolution's weight and bias as constants and replaces the BatchNorm module by `nn.Identity` (or
deletes it). `inplace=True` does that to the model that is being trained. Every later epoch trains a
network without normalization, and the BatchNorm layers (kept alive only by references elsewhere)
never see another batch: their running statistics stay at the values of the fusion step. The
default `inplace=False` fuses a deep copy and leaves the trained model alone.
""",
        example="""
def measure_latency(model, sample):
    model.eval()
    fused = fuse_modules(model, [["conv1", "bn1", "relu1"]], inplace=True)
    ...

for epoch in range(epochs):
    train_one_epoch(model, loader, optimizer)
    if epoch == 0:
        log(measure_latency(model, sample))
""",
        use_instead="""
def measure_latency(model, sample):
    model.eval()
    fused = fuse_modules(model, [["conv1", "bn1", "relu1"]])   # inplace=False: a deep copy
    ...
""",
        not_flagged="""
`fuse_modules` with the default `inplace=False` whose result is not rebound to the trained model;
`torch.fx.experimental.optimization.fuse(model, inplace=True)` (it rewrites a traced copy: the
original keeps its BatchNorm modules); a fusion of a deep copy (`copy.deepcopy(model).fuse()`);
a fusion after the last optimizer step (export at the end, inference scripts), on the last
iteration only (`if epoch == epochs - 1:`), or followed by a `break`; a model rebuilt or reloaded
between the fusion and the next step; quantization-aware training (`fuse_modules_qat`,
`prepare_qat`: files mentioning QAT); models without BatchNorm; unit tests.
""",
        versions=PYTORCH_VERSIONS + " Fusion semantics checked on PyTorch 2.13.",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not _uses_torch(module) or not any(module.mentions(t) for t in self.triggers):
            return
        for inner_module, inner, message in _fusion_findings(project):
            if inner_module is module:
                yield self.finding(module, inner, message)


# ---------------------------------------------------------------------------------------------------
# where fusions happen

def _fold_call(call: ast.AST, module: Module, project: Project) -> bool:
    """A call that returns a layer with a BatchNorm folded in: torch's ``fuse_conv_bn_eval``, or a
    fuse / fold function given a BatchNorm layer (``fuse_conv_and_bn(m.conv, m.bn)``) or whose
    project definition reads ``running_var``."""
    if not isinstance(call, ast.Call):
        return False
    name = (dotted(call.func) or "").rsplit(".", 1)[-1]
    if not name or not _FUSE_WORD.search(name) or name.endswith("_qat"):
        return False
    if name in _TORCH_FOLDS:
        return True
    if any(_BN_ARG.search((dotted(a) or "").rsplit(".", 1)[-1]) for a in call.args if dotted(a)):
        return True
    return any("running_var" in "\n".join(fi.module.lines[fi.node.lineno - 1:fi.node.end_lineno])
               for fi in project.functions(name))


def _fuse_modules_call(call: ast.Call, module: Module) -> Optional[bool]:
    """For ``torch.ao.quantization.fuse_modules(model, groups, inplace=...)``: whether it fuses in
    place (None when the call is no such fusion)."""
    q = module.qualname(call.func) or ""
    if not (q.startswith("torch") and q.rsplit(".", 1)[-1] == "fuse_modules") or not call.args:
        return None
    inplace = next((k.value for k in call.keywords if k.arg == "inplace"), call.args[2] if len(call.args) > 2 else None)
    return isinstance(inplace, ast.Constant) and inplace.value is True


def _fx_fuse_call(call: ast.Call, module: Module) -> bool:
    return (module.qualname(call.func) or "") == "torch.fx.experimental.optimization.fuse" and bool(call.args)


def _walk_base(module: Module, name: str, anchor: ast.AST) -> Optional[ast.AST]:
    """For the loop variable ``name`` of ``for m in model.modules()`` (``named_modules()``,
    ``children()``) around ``anchor``: ``model``."""
    for a in module.ancestors(anchor):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return None
        if isinstance(a, (ast.For, ast.AsyncFor)) and isinstance(a.iter, ast.Call) \
                and isinstance(a.iter.func, ast.Attribute) \
                and a.iter.func.attr in ("modules", "named_modules", "children", "named_children"):
            names = {n.id for n in astwalk.walk(a.target) if isinstance(n, ast.Name)}
            if name in names:
                return a.iter.func.value
    return None


def _direct_fusions(module: Module, project: Project) -> list[tuple[Optional[ast.AST], ast.AST, ast.AST, bool]]:
    """(scope, model expression, fusion node, rebinding) for each fusion written in ``module``."""
    out = []
    for c in module.calls:
        call = c.node
        if c.name == "fuse_modules":
            inplace = _fuse_modules_call(call, module)
            if inplace:
                out.append((c.scope, call.args[0], call, False))
            elif inplace is False:
                rebound = _rebinding(module, call)
                if rebound is not None:
                    out.append((c.scope, rebound, call, True))
        elif c.name == "fuse" and _fx_fuse_call(call, module):
            rebound = _rebinding(module, call)
            if rebound is not None:
                out.append((c.scope, rebound, call, True))
        elif c.name == "setattr" and len(call.args) == 3 and _fold_call(call.args[2], module, project):
            target = call.args[0]
            base = _walk_base(module, target.id, call) if isinstance(target, ast.Name) else None
            out.append((c.scope, base if base is not None else target, call, False))
    if not _FUSE_WORD.search(module.unit.text):
        return out
    for n in module.assignments:
        if not isinstance(n, ast.Assign) or len(n.targets) != 1 or not _fold_call(n.value, module, project):
            continue
        t = n.targets[0]
        while isinstance(t, ast.Subscript):
            t = t.value
        if not isinstance(t, ast.Attribute):
            continue  # ``fused = fuse_conv_bn_eval(conv, bn)``: a new layer, not put in a model here
        holder = t.value
        while isinstance(holder, ast.Subscript):
            holder = holder.value
        if not dotted(holder):
            continue
        head = dotted(holder).split(".")[0]
        base = _walk_base(module, head, n)
        out.append((module.scope_of(n), base if base is not None and head == dotted(holder) else holder, n, False))
    return out


def _rebinding(module: Module, call: ast.Call) -> Optional[ast.AST]:
    """``model = fuse_modules(model, ...)``: the model name the fused copy is bound to."""
    parent = module.parent(call)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and dotted(parent.targets[0]) \
            and dotted(parent.targets[0]) == dotted(call.args[0]):
        return parent.targets[0]
    return None


def _position(scope: Optional[ast.AST], expr: ast.AST, module: Module) -> Optional[int]:
    """The parameter of ``scope`` that ``expr`` (``model``, ``model.backbone``, ``self``) belongs to:
    its index, -1 for the receiver of a method; None for a local object."""
    if scope is None or isinstance(scope, ast.Lambda):
        return None
    d = dotted(expr)
    if not d:
        return None
    head = d.split(".")[0]
    params = [a.arg for a in scope.args.posonlyargs + scope.args.args]
    in_class = isinstance(module.parent(scope), ast.ClassDef) and not any(
        (dotted(d) or "") == "staticmethod" for d in scope.decorator_list)
    if in_class and params and head == params[0]:
        return -1
    if in_class:
        params = params[1:]
    return params.index(head) if head in params else None


def _argument(call: ast.Call, pos: int) -> Optional[ast.AST]:
    if pos == -1:
        return call.func.value if isinstance(call.func, ast.Attribute) else None
    if any(isinstance(a, ast.Starred) for a in call.args[:pos + 1]):
        return None
    return call.args[pos] if pos < len(call.args) else None


def _fusion_sites(project: Project) -> list[tuple[Module, Optional[ast.AST], ast.AST, ast.AST, Module, ast.AST]]:
    """(module, scope, model expression, call / fusion node in the scope, inner module, inner fusion
    node) for every fusion written in a function and every call of a function that fuses the model
    it receives (up to three levels)."""
    sites = []
    fusers: dict[int, tuple[int, Module, ast.AST]] = {}  # function id -> (position, inner module, node)
    for m in project.modules:
        if not (m.mentions("fuse") or m.mentions("fold") or m.mentions("Fuse") or m.mentions("Fold")) \
                or _QAT.search(m.unit.text):
            continue
        for scope, expr, node, rebinding in _direct_fusions(m, project):
            if scope is not None and getattr(scope, "name", "") in _NOT_FUSERS:
                continue  # a layer built fused (``__init__``), a forward that folds on the fly
            sites.append((m, scope, expr, node, m, node))
            pos = None if rebinding else _position(scope, expr, m)
            if pos is not None and id(scope) not in fusers:
                fusers[id(scope)] = (pos, m, node)
    if not fusers:
        return sites
    flow = _flow(project)
    new = dict(fusers)
    for _round in range(3):
        found: dict[int, tuple[int, Module, ast.AST]] = {}
        names = {flow.function_info[k].name for k in new if k in flow.function_info}
        for name in names:
            for c in project.call_sites(name):
                if c.scope is not None and is_unit_test(c.module, c.scope):
                    continue
                cands, unique = flow.resolve(c.module, c.node, c.scope)
                if not unique or not cands or id(cands[0].node) not in new:
                    continue
                pos, inner_m, inner = new[id(cands[0].node)]
                arg = _argument(c.node, pos)
                if arg is None or not dotted(arg):
                    continue
                sites.append((c.module, c.scope, arg, c.node, inner_m, inner))
                p = _position(c.scope, arg, c.module)
                if p is not None and id(c.scope) not in fusers and id(c.scope) not in found:
                    found[id(c.scope)] = (p, inner_m, inner)
        if not found:
            break
        fusers.update(found)
        new = found
    return sites


# ---------------------------------------------------------------------------------------------------
# is the fused model trained afterwards?

def _fusion_findings(project: Project) -> list[tuple[Module, ast.AST, str]]:
    def compute(p: Project) -> list[tuple[Module, ast.AST, str]]:
        out: list[tuple[Module, ast.AST, str]] = []
        seen: set[int] = set()
        for m, scope, expr, node, inner_m, inner in _fusion_sites(p):
            if id(inner) in seen or is_test_file(p.relative_path(inner_m)) or is_test_file(p.relative_path(m)):
                continue
            if scope is not None and is_unit_test(m, scope) or _QAT.search(m.unit.text):
                continue
            step = _trained_after(p, m, scope, expr, node)
            if step is None:
                continue
            seen.add(id(inner))
            text = dotted(expr) or ast.unparse(expr)
            rebound = isinstance(inner_m.parent(inner), ast.Assign) and _fuse_modules_call(inner, inner_m) is False \
                or isinstance(inner, ast.Call) and _fx_fuse_call(inner, inner_m)
            where = "" if m is inner_m and node is inner else \
                f" (through `{ast.unparse(node.func) if isinstance(node, ast.Call) else text}` at {_where(m, inner_m, node.lineno)})"
            out.append((inner_m, inner, (
                (f"this binds `{text}` to a copy of it with its BatchNorm layers folded into the convolutions: "
                 f"`{text}` has no BatchNorm modules left, and it is trained afterwards " if rebound else
                 f"this folds the BatchNorm layers of the model itself into its convolutions{where}: the BatchNorm "
                 f"modules are replaced (by `nn.Identity`) or bypassed in `{text}`, and `{text}` is trained afterwards ") +
                f"(the optimizer step at {_where(m, inner_m, step.lineno)} runs after the fusion{_wrap_note(m, node, step)}): "
                f"the rest of the training runs without BatchNorm and its running statistics stay at the values of "
                f"the fusion. Fuse a copy (`fuse_modules(model, groups)` with the default `inplace=False`, "
                f"`copy.deepcopy(model)`) for the benchmark / export")))
        return out

    return project.fact("torch.bn315_fusions", compute)


def _wrap_note(m: Module, node: ast.AST, step: ast.AST) -> str:
    return "" if (step.lineno, step.col_offset) > (node.lineno, node.col_offset) else ", in the next iteration of the loop"


def _trained_after(project: Project, m: Module, scope, expr: ast.AST, node: ast.AST,
                   need_bn: bool = True) -> Optional[ast.AST]:
    """The call in ``scope`` (an optimizer step, or a call that runs one) that trains the model of
    ``expr`` after the fusion ``node``: later in the function, or in the next iteration of a loop
    around the fusion. None when there is none or the model does not hold BatchNorm."""
    flow = _flow(project)
    if scope is not None and isinstance(scope, ast.Lambda):
        return None
    params = set(_params(scope)) if scope is not None else set()
    fi = flow.function_info.get(id(scope)) if scope is not None else None
    if fi is not None and fi.cls is not None and scope.args.args:
        params.discard(scope.args.args[0].arg)
    key, _text = receiver_key(expr, {}, params)
    if not key:
        return None
    if scope is not None and not flow.may_produce("step", scope, m):
        return None
    events = flow.summary(scope) if scope is not None else flow.module_summary(m)
    if not any(e.kind == "step" for e in events):
        return None
    loops = [a for a in _enclosing(m, node, scope) if isinstance(a, LOOP_TYPES)]
    wrap_loops = [lp for lp in loops if _repeats_after(m, node, lp)]
    text = dotted(expr) or ""
    opt = _optimizers(project)
    for ev in events:
        if ev.kind != "step" or ev.sites[0][0] is not m:
            continue
        site = ev.sites[0][1]
        if site is node or _inside(m, site, node):
            continue
        after = (site.lineno, site.col_offset) > (node.lineno, node.col_offset)
        wrapped = not after and any(_inside(m, site, lp) for lp in wrap_loops)
        if not (after or wrapped):
            continue
        if opt.trains(ev, key) is not True:
            continue
        if _rebound_between(m, scope, text, node, site, wrapped, wrap_loops):
            continue
        if need_bn and not _bn_model(project, m, scope, key):
            return None
        return site
    return None


def _bn_model(project: Project, m: Module, scope, key) -> bool:
    if key[0].startswith("$"):
        return scope is not None and _passed_bn(scope, key, project, _flow(project))
    if key == ("$self",):
        return False
    return _holds_bn(key, project, m)


def _enclosing(m: Module, node: ast.AST, scope) -> list[ast.AST]:
    out = []
    for a in m.ancestors(node):
        if a is scope or isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            break
        out.append(a)
    return out


def _inside(m: Module, node: ast.AST, outer: ast.AST) -> bool:
    return any(a is outer for a in m.ancestors(node))


def _repeats_after(m: Module, node: ast.AST, loop: ast.AST) -> bool:
    """May the loop run another iteration after the one that fuses: no ``break`` / ``return`` after
    the fusion in the iteration, no last-iteration test (``if epoch == epochs - 1:``) around it?"""
    child = node
    for a in m.ancestors(node):
        if isinstance(a, ast.If) and _LAST_ITERATION.search(ast.unparse(a.test)) \
                and any(child is s for s in a.body):
            return False
        for field in ("body", "orelse"):
            block = getattr(a, field, None)
            if isinstance(block, list) and any(s is child for s in block):
                later = block[block.index(child) + 1:]
                if any(isinstance(x, (ast.Break, ast.Return, ast.Raise)) for s in later for x in _own_statements(s)):
                    return False
        if a is loop:
            return True
        child = a
    return True


def _own_statements(st: ast.stmt) -> Iterable[ast.AST]:
    """``st`` and the statements nested in it, not inside nested loops or functions."""
    yield st
    if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) + LOOP_TYPES):
        return
    for field in ("body", "orelse", "finalbody", "handlers"):
        for s in getattr(st, field, None) or ():
            yield from _own_statements(s)


def _rebound_between(m: Module, scope, text: str, node: ast.AST, site: ast.AST, wrapped: bool, loops: list) -> bool:
    """Is the model's name bound anew (``model = build_model()``, ``model = copy.deepcopy(best)``)
    between the fusion and the step (anywhere in the loop when the step runs in a later iteration)?"""
    if not text:
        return True
    start, end = (node.lineno, node.col_offset), (site.lineno, site.col_offset)
    for n in m.assignments:
        if not isinstance(n, ast.Assign) or not any(dotted(t) == text for t in n.targets):
            continue
        if any(dotted(x) == text for x in astwalk.walk(n.value)):
            continue  # ``model = DDP(model)``, ``model = model.to(device)``: the same model, wrapped
        if _inside(m, node, n) or m.scope_of(n) is not (scope if scope is not None else None):
            continue
        pos = (n.lineno, n.col_offset)
        if wrapped and any(_inside(m, n, lp) for lp in loops) or not wrapped and start < pos < end:
            return True
    return False
