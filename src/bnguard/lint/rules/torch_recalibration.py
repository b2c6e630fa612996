"""Statistics recomputes (SWA ``update_bn``, hand-written ``bn_update`` passes) that do not recompute:
facts for BN306.

1. ``torch.optim.swa_utils.update_bn(loader, model)`` resets the running statistics of EVERY
   ``_BatchNorm`` of ``model`` (``reset_running_stats()``: mean 0, variance 1, counter 0), sets their
   momentum to None and calls ``model.train()`` before forwarding the loader. A module whose
   ``train(mode)`` override calls ``super().train(mode)`` and then puts its BatchNorm layers back in
   eval mode (mmdetection's ``norm_eval``, a ``freeze_bn`` flag) keeps those layers in eval during the
   pass: they see no batch and keep the reset 0 / 1 statistics (measured on PyTorch 2.13).
2. ``bn.momentum = None`` makes BatchNorm's running statistics a cumulative average with factor
   ``1 / num_batches_tracked``. A recalibration pass that sets it without resetting the statistics
   (``reset_running_stats()`` zeroes the counter) continues the counter of the model's earlier
   training: each recalibration batch weighs ``1 / (n_trained + k)`` and the statistics barely move.
"""
from __future__ import annotations

import ast
from typing import Optional

from bnguard.lint import astwalk
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_unit_test
from bnguard.lint.torchflow import LOOP_TYPES, _params, call_arguments, is_optimizer_step, mode_call, mode_parameter, \
    hands_on_mode

# calls that copy a model (buffers and all) or wrap it: the statistics are those of their argument
_WRAPPERS = ("AveragedModel", "deepcopy", "DataParallel", "DistributedDataParallel", "DDP")


# ------------------------------------------------------------------------------------------------
# 1. update_bn on a model whose train() override keeps BatchNorm in eval mode
# ------------------------------------------------------------------------------------------------
def update_bn_reset_findings(module: Module, project: Project) -> list[tuple[ast.Call, str]]:
    """(``update_bn`` call, message) for each ``update_bn(loader, model)`` of ``module`` whose model is
    built by a project class holding a module whose ``train(mode)`` override keeps BatchNorm in eval
    mode whenever it trains (its guard always true)."""
    if "update_bn" not in module.unit.text:
        return []
    out = []
    for site in module.calls:
        q = site.qualname or ""
        if not (q.endswith("swa_utils.update_bn") or q.startswith("torchcontrib.") and q.endswith(".bn_update")):
            continue
        arg = site.node.args[1] if len(site.node.args) > 1 else next(
            (k.value for k in site.node.keywords if k.arg == "model"), None)
        if arg is None:
            continue
        found = None
        for m, name in _model_classes(arg, project, module, site.scope):
            found = _held_norm_eval_override(name, m, project, frozenset())
            if found is not None:
                break
        if found is None:
            continue
        cls, cm, ev = found
        out.append((site.node, (
            f"`{ast.unparse(site.node)[:60]}` resets the running statistics of every BatchNorm of "
            f"`{ast.unparse(arg)}` and then calls its `train()`, but `{cls.name}.train()` ({cm.where(ev.lineno)}) "
            f"puts its BatchNorm layers back in eval mode (`{ast.unparse(ev)[:40]}`): those layers see no batch "
            f"of the pass and keep the reset statistics (mean 0, variance 1), not their pretrained ones. Use "
            f"`AveragedModel(..., use_buffers=True)` (the frozen statistics are then kept), or recompute only the "
            f"layers that train (switch the override off during the pass).")))
    return out


def _model_classes(expr: ast.AST, project: Project, module: Module, scope, depth: int = 0) -> list[tuple[Module, str]]:
    """Project classes / factories the model ``expr`` is built from, through ``AveragedModel(m)`` /
    ``deepcopy(m)`` / ``DataParallel(m)`` (assignments in ``scope``, else in ``module``)."""
    from bnguard.lint.rules.torch import _bn_classes, _own_nodes

    if depth > 3 or not isinstance(expr, ast.Name):
        return []
    classes = _bn_classes(project)
    out: list[tuple[Module, str]] = []
    for where in ([scope] if scope is not None else []) + [None]:
        for n in _own_nodes(module, where):
            if not (isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name)
                    and n.targets[0].id == expr.id and isinstance(n.value, ast.Call)):
                continue
            value = n.value
            while isinstance(value.func, ast.Attribute) and value.func.attr in ("to", "cuda", "cpu", "eval", "train") \
                    and isinstance(value.func.value, ast.Call):
                value = value.func.value  # Net().to(device)
            last = (dotted(value.func) or "").rsplit(".", 1)[-1]
            if last in _WRAPPERS and value.args:
                out += _model_classes(value.args[0], project, module, scope, depth + 1)
            elif last in classes:
                out.append((module, last))
        if out:
            return out
    return out


def _held_norm_eval_override(name: str, module: Module, project: Project, stack: frozenset):
    """(class, its module, the ``eval()`` call) of a project class that ``name`` builds (itself, a base, a
    sub-module it constructs) whose ``train(mode)`` override keeps BatchNorm in eval mode; or None."""
    from bnguard.lint.rules.torch import _bn_classes, _construction_region, _construction_uses

    memo = project.facts.setdefault("torch.bn306.norm_eval_held", {})  # type: ignore[arg-type]
    key = (name, id(module))
    if key in memo:  # type: ignore[operator]
        return memo[key]  # type: ignore[index]
    if name in stack or len(stack) > 12:
        return None
    memo[key] = None  # type: ignore[index]
    classes = _bn_classes(project)
    found = None
    for node, m in classes._candidates(name, module)[0]:
        if isinstance(node, ast.ClassDef):
            ev = _norm_eval_override(node, m, project)
            if ev is not None:
                found = (node, m, ev)
                break
        for n in _construction_uses(_construction_region(node)):
            if not isinstance(n, (ast.Call, ast.Name)):
                continue
            last = (dotted(n.func if isinstance(n, ast.Call) else n) or "").rsplit(".", 1)[-1]
            if last in classes.defs and last != name:
                where = classes._resolves_in(n, m)
                if where is not None:
                    found = _held_norm_eval_override(last, where, project, stack | {name})
                    if found is not None:
                        break
        if found is not None:
            break
    memo[key] = found  # type: ignore[index]
    return found


def _norm_eval_override(cls: ast.ClassDef, module: Module, project: Project) -> Optional[ast.Call]:
    """The ``m.eval()`` of ``cls``'s ``train(mode)`` override that runs after ``super().train(mode)``
    whenever ``mode`` is true, on the BatchNorm layers picked out of ``self.modules()`` (also in a
    ``self._freeze()`` method it calls); None when the override hands nothing on, or a guard may be false."""
    from bnguard.lint.rules.torch_grad_freeze import _derived_names, _guarded_by_bn_test, _submodule_loop

    fn = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "train"), None)
    mode = mode_parameter(fn) if fn is not None else None
    if fn is None or mode is None or not _calls_super_train(fn):
        return None
    methods = {f.name: f for f in cls.body if isinstance(f, ast.FunctionDef)}
    bodies: list[tuple[ast.FunctionDef, Optional[ast.Call]]] = [(fn, None)] + [
        (methods[c.func.attr], c) for c in astwalk.walk(fn) if isinstance(c, ast.Call)
        and isinstance(c.func, ast.Attribute) and dotted(c.func.value) == "self"
        and c.func.attr in methods and c.func.attr != "train" and not c.args and not c.keywords]
    for body, via in bodies:
        # a helper method counts only when its call in the override runs whenever the module trains
        if via is not None and not all(_true_when_training(a, mode, set(), module, project) for a in _guards(module, via, fn)):
            continue
        for n in astwalk.walk(body):
            if not (isinstance(n, ast.Call) and mode_call(n) == "eval" and isinstance(n.func.value, ast.Name)):
                continue
            var = n.func.value.id
            loop = _submodule_loop(module, var, n)
            if loop is None or dotted(getattr(loop.iter.func, "value", None)) != "self":  # type: ignore[union-attr]
                continue
            names = _derived_names(loop, {var})
            if not _guarded_by_bn_test(module, n, loop, names):
                continue
            if all(_true_when_training(a, mode if body is fn else None, names, module, project)
                   for a in _guards(module, n, body)):
                return n
    return None


def _calls_super_train(fn: ast.FunctionDef) -> bool:
    mode = mode_parameter(fn)
    return hands_on_mode(fn, mode) and any(
        isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "train"
        and (isinstance(c.func.value, ast.Call) and dotted(c.func.value.func) == "super"
             or c.args and isinstance(c.args[0], ast.Name) and c.args[0].id == "self")
        for c in astwalk.walk(fn))


def _guards(module: Module, node: ast.AST, stop: ast.AST) -> list[tuple[ast.If, bool]]:
    """The ``if`` statements between ``node`` and ``stop``, each with whether ``node`` is in its body."""
    out = []
    child = node
    for a in module.ancestors(node):
        if isinstance(a, ast.If):
            out.append((a, any(child is s for s in a.body)))
        if a is stop:
            break
        child = a
    return out


def _true_when_training(guard: tuple[ast.If, bool], mode: Optional[str], bn_names: set, module: Module,
                        project: Project) -> bool:
    """Is the branch taken whenever the module trains: the BN selection itself, ``mode``, and
    settings that are always true (``self.norm_eval`` set from a parameter passed True everywhere)?"""
    from bnguard.lint.rules.torch_grad_freeze import _selects_bn

    test, in_body = guard
    if _selects_bn(test.test, bn_names, in_body):
        return True
    if not in_body:
        return _settings(test.test, module, project, module.scope_of(test)) in ({False}, {None}, {False, None})
    parts = test.test.values if isinstance(test.test, ast.BoolOp) and isinstance(test.test.op, ast.And) else [test.test]
    for part in parts:
        if isinstance(part, ast.Name) and part.id == mode:
            continue
        vals = _settings(part, module, project, module.scope_of(test))
        if vals is None or not vals or not all(vals):
            return False
    return True


_MISSING = object()


def _settings(expr: ast.AST, module: Module, project: Project, scope, depth: int = 0) -> Optional[set]:
    """The constant values ``expr`` can take, looked up only in the program of ``module`` (the modules
    its imports connect it to: unrelated scripts of the project that reuse a class name do not count):
    constants, ``self.flag`` stored by the class from an ``__init__`` parameter (its default and the
    argument of each construction), parameters, module-level names and ``cfg["key"]`` of a dict literal.
    None when some value cannot be told."""
    if depth > 6:
        return None
    if isinstance(expr, ast.Constant):
        return {expr.value}
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        cls = module.enclosing_class(expr)
        if cls is None:
            return None
        stores = [(n.value, f) for f in cls.body if isinstance(f, ast.FunctionDef) for n in astwalk.walk(f)
                  if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == expr.attr
                                                       and dotted(t.value) == "self" for t in n.targets)]
        if not stores:
            return None
        out: set = set()
        for value, f in stores:
            got = _settings(value, module, project, f, depth + 1)
            if got is None:
                return None
            out |= got
        return out
    if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant):
        container = _dict_literal(expr.value, module, scope)
        if container is not None:
            value = container.get(expr.slice.value, _MISSING)
            return None if value is _MISSING else _settings(value, module, project, None, depth + 1)
        if isinstance(expr.value, ast.Name) and scope is not None and expr.value.id in _params(scope):
            return _param_settings(scope, expr.value.id, module, project, depth, key=expr.slice.value)
        return None
    if isinstance(expr, ast.Name):
        if scope is not None and not isinstance(scope, ast.Lambda) and expr.id in _params(scope):
            return _param_settings(scope, expr.id, module, project, depth)
        values = [n.value for n in module.tree.body if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        if len(values) == 1:
            return _settings(values[0], module, project, None, depth + 1)
    return None


def _dict_literal(expr: ast.AST, module: Module, scope) -> Optional[dict]:
    """``{"k": v}`` / ``dict(k=v)`` written out, or a module-level name bound once to one."""
    if isinstance(expr, ast.Name) and (scope is None or expr.id not in _params(scope)):
        values = [n.value for n in module.tree.body if isinstance(n, ast.Assign)
                  and any(isinstance(t, ast.Name) and t.id == expr.id for t in n.targets)]
        if len(values) != 1 or any(isinstance(n, (ast.Global,)) for n in astwalk.walk(module.tree)):
            return None
        expr = values[0]
    if isinstance(expr, ast.Dict) and all(isinstance(k, ast.Constant) for k in expr.keys):
        return {k.value: v for k, v in zip(expr.keys, expr.values)}  # type: ignore[union-attr]
    if isinstance(expr, ast.Call) and dotted(expr.func) == "dict" and not expr.args and all(k.arg for k in expr.keywords):
        return {k.arg: k.value for k in expr.keywords}
    return None


def _param_settings(fn: ast.AST, param: str, module: Module, project: Project, depth: int,
                    key: object = _MISSING) -> Optional[set]:
    """The values parameter ``param`` of ``fn`` (``key`` of it, for a dict) takes over the calls of
    ``fn`` in ``module``'s program (for ``__init__``: the constructions of its class), with its default."""
    from bnguard.lint.rules.torch import _flow

    fi = _flow(project).function_info.get(id(fn))
    if fi is None or not isinstance(fn, ast.FunctionDef):
        return None
    component = project.import_component(module)
    if fn.name == "__init__" and fi.cls is not None:
        name = fi.cls.name
        sites = [c for c in project.call_sites(name) if id(c.module) in component
                 and (c.module is module or not any(k.name == name for k in c.module.classes))]
    else:
        sites = [site for site, _u in _flow(project).callers_of(fn) if id(site.module) in component]
    if not sites:
        return None
    args = fn.args.args
    defaults = dict(zip([a.arg for a in args[len(args) - len(fn.args.defaults):]], fn.args.defaults))
    defaults.update({a.arg: d for a, d in zip(fn.args.kwonlyargs, fn.args.kw_defaults) if d is not None})
    out: set = set()
    for site in sites:
        if any(isinstance(a, ast.Starred) for a in site.node.args) or any(k.arg is None for k in site.node.keywords):
            return None
        passed = call_arguments(fi, site.node)[1]
        value, where, where_scope = passed.get(param), site.module, site.scope
        if value is None:
            value, where, where_scope = defaults.get(param), module, None
            if value is None:
                return None
        if key is not _MISSING:
            container = _dict_literal(value, where, where_scope)
            value = container.get(key) if container is not None else None
            if value is None:
                return None
        got = _settings(value, where, project, where_scope if not isinstance(where_scope, ast.Lambda) else None, depth + 1)
        if got is None:
            return None
        out |= got
    return out


# ------------------------------------------------------------------------------------------------
# 2. momentum = None recalibration without a reset
# ------------------------------------------------------------------------------------------------
_RESET_WORDS = ("reset_running_stats", "reset_parameters", "num_batches_tracked", "running_mean", "running_var",
                "register_buffer", "load_state_dict")


def cumulative_without_reset_findings(project: Project) -> list[tuple[Module, ast.AST, str]]:
    def compute(p: Project) -> list:
        out = []
        for m in p.modules:
            if ".momentum" not in m.unit.text or "None" not in m.unit.text:
                continue
            for fi in m.functions:
                hit = _cumulative_pass(fi.node, m, p)
                if hit is not None:
                    out.append((m, hit[0], hit[1]))
        return out

    return project.fact("torch.bn306.cumulative_without_reset", compute)


def cumulative_pass_functions(project: Project) -> dict[str, set[int]]:
    """The project functions (name -> ids of their definitions) that re-estimate the statistics of the
    model they are given with a cumulative average (``momentum = None``, ``train()``, forward passes, no
    optimizer step): hand-written ``update_bn`` passes, whatever their name."""
    def compute(p: Project) -> dict[str, set[int]]:
        out: dict[str, set[int]] = {}
        for m in p.modules:
            if ".momentum" not in m.unit.text or "None" not in m.unit.text:
                continue
            for fi in m.functions:
                if _cumulative_shape(fi.node, m) is not None:
                    out.setdefault(fi.name, set()).add(id(fi.node))
        return out

    return project.fact("torch.bn306.cumulative_passes", compute)


def _cumulative_shape(fn: ast.AST, module: Module) -> Optional[tuple[ast.Assign, str]]:
    """(first ``.momentum = None``, model parameter) of a function that sets the momentum of the
    BatchNorm layers of its model parameter to None, switches something to train mode and forwards
    batches through that model afterwards, with no optimizer step; None for anything else."""
    from bnguard.lint.rules.torch import _runs_object

    if is_unit_test(module, fn):
        return None
    sets = [n for n in astwalk.walk(fn) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
            and n.value.value is None and any(isinstance(t, ast.Attribute) and t.attr == "momentum" for t in n.targets)]
    if not sets:
        return None
    calls = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call)]
    if any(is_optimizer_step(c, module) for c in calls) or not any(mode_call(c) == "train" for c in calls):
        return None
    walked = {dotted(c.func.value) for c in calls if isinstance(c.func, ast.Attribute)
              and c.func.attr in ("modules", "named_modules", "children")}
    first = min(sets, key=lambda n: n.lineno)
    params = set(_params(fn))
    for model in sorted(x for x in walked if x in params):
        if any(_runs_object(c, model) and c.lineno > first.lineno for c in calls):
            return first, model
    return None


def _cumulative_pass(fn: ast.AST, module: Module, project: Project) -> Optional[tuple[ast.AST, str]]:
    """A cumulative pass (``_cumulative_shape``) with no statistics reset anywhere in it (nor in a project
    function it calls), called on a model whose counter already runs: (reported node, message)."""
    shape = _cumulative_shape(fn, module)
    if shape is None:
        return None
    first, model = shape
    text = ast.unparse(fn)
    if any(w in text for w in _RESET_WORDS) or ".apply(" in text:
        return None
    if any(isinstance(c, ast.Call) and _project_resets(c, module, fn, project) for c in astwalk.walk(fn)):
        return None
    why = _counter_running(fn, model, module, project)
    if why is None:
        return None
    return first, (
        f"`{ast.unparse(first)}` makes the BatchNorm statistics of `{model}` a cumulative average "
        f"(factor 1 / num_batches_tracked) for the recalibration pass, but nothing resets them first "
        f"({why}): the counter continues from the earlier training, each pass batch weighs "
        f"1 / (n + k) and the statistics stay (almost) the old ones. Call `m.reset_running_stats()` "
        f"on each layer before setting `momentum = None` (as `torch.optim.swa_utils.update_bn` does).")


def _project_resets(call: ast.Call, module: Module, fn: ast.AST, project: Project) -> bool:
    """A call of a project function (as the flow resolves it) whose body may reset or write BatchNorm
    statistics."""
    from bnguard.lint.rules.torch import _flow

    cands, _unique = _flow(project).resolve(module, call, fn)
    return any(any(w in ast.unparse(c.node) for w in _RESET_WORDS) for c in cands)


def _counter_running(fn: ast.AST, param: str, module: Module, project: Project) -> Optional[str]:
    """Why the model each call of ``fn`` hands in for ``param`` has counted batches already: a copy
    (``AveragedModel`` / ``deepcopy``) made inside (or after) a loop of optimizer steps, or a call made
    in a loop (the second pass continues the first one's counter). None when some call cannot be told."""
    from bnguard.lint.rules.torch import _flow, _own_nodes

    flow = _flow(project)
    fi = flow.function_info.get(id(fn))
    if fi is None:
        return None
    reason = None
    sites = flow.callers_of(fn)
    if not sites:
        return None
    for site, unique in sites:
        if not unique:
            return None
        arg = call_arguments(fi, site.node)[1].get(param)
        if not isinstance(arg, ast.Name):
            return None
        scope = site.scope if site.scope is not None and not isinstance(site.scope, ast.Lambda) else None
        nodes = _own_nodes(site.module, scope)
        steps = [c for c in nodes if isinstance(c, ast.Call) and is_optimizer_step(c, site.module)]
        copies = [n for n in nodes if isinstance(n, ast.Assign) and len(n.targets) == 1
                  and isinstance(n.targets[0], ast.Name) and n.targets[0].id == arg.id and isinstance(n.value, ast.Call)
                  and (dotted(n.value.func) or "").rsplit(".", 1)[-1] in ("AveragedModel", "deepcopy")]
        if len(copies) != 1 or any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                                   and n.func.attr == "load_state_dict" and dotted(n.func.value) == arg.id for n in nodes):
            return None
        copy = copies[0]
        copy_loops = [a for a in site.module.ancestors(copy) if isinstance(a, LOOP_TYPES)]
        trained = [s for s in steps if s.lineno < copy.lineno or any(
            any(x is s for x in astwalk.walk(lp)) for lp in copy_loops)]
        if not trained:
            call_loops = [a for a in site.module.ancestors(site.node) if isinstance(a, LOOP_TYPES)
                          and not any(x is copy for x in astwalk.walk(a))]
            if not call_loops:
                return None  # a copy made before any training, recalibrated once: its counter is 0
            reason = reason or (f"`{ast.unparse(site.node)[:50]}` ({site.module.where(site.node.lineno)}) runs in a loop: "
                                "every pass after the first continues the previous pass's counter")
        else:
            reason = reason or (f"`{arg.id}` is copied ({site.module.where(copy.lineno)}) after optimizer steps, "
                                f"with the statistics and the batch counter of the trained model")
    return reason
