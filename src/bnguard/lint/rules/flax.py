"""JAX / Flax rules (BN4xx): BatchNorm statistics that a functional training step never keeps.

Flax modules are pure: ``model.apply(variables, x, mutable=['batch_stats'])`` returns the new
statistics next to the output, and they exist nowhere else. A step that runs BN with running
averages, or that does not carry the returned statistics into the next step, trains with frozen
statistics.
"""
from __future__ import annotations

import ast
import re
from typing import Callable, Iterable, Iterator, Optional

from bnguard.lint import astwalk
from bnguard.lint import keras_facts as kf
from bnguard.lint import values as V
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import CallSite, FuncNode, Module, Project, is_test_file, is_unit_test
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.tf1_facts import (deliberate_in_program, identifier_words, mentions_deliberate_batch_stats,
                                     same_program)

FLAX_VERSIONS = "Flax linen 0.4-0.12 (verified with flax 0.12.8, jax 0.10.2); NNX (flax >= 0.8) for the split/merge case of BN402."
LINEN_BN = {"flax.linen.BatchNorm", "flax.linen.normalization.BatchNorm"}
# Identifier words that make a name containing "train" something other than the training flag
# (``not_train``, ``train_frozen_bn``, ``use_train_stats``...).
_NOT_A_TRAINING_FLAG = {"not", "eval", "evaluation", "frozen", "freeze", "fixed", "inference", "test", "use",
                        "running", "average", "avg", "stats", "statistics", "deterministic", "no"}
NNX_BN = {"flax.nnx.BatchNorm", "flax.nnx.nn.normalization.BatchNorm", "flax.experimental.nnx.BatchNorm"}


def _mutable_has_batch_stats(module: Module, project: Project, call: ast.Call) -> bool:
    m = kf.kwarg(call, "mutable")
    return m is not None and _mutable_value_has_batch_stats(module, project, m)


def _mutable_value_has_batch_stats(module: Module, project: Project, m: ast.expr) -> bool:
    if isinstance(m, (ast.List, ast.Tuple, ast.Set)):
        return any(isinstance(e, ast.Constant) and e.value == "batch_stats" for e in m.elts)
    if isinstance(m, ast.Constant):
        return m.value == "batch_stats"
    if isinstance(m, ast.IfExp):  # mutable=["batch_stats"] if train else False
        return any(_mutable_value_has_batch_stats(module, project, branch) for branch in (m.body, m.orelse))
    vals = kf.constant_values(module, project, m)
    if vals is None and isinstance(m, ast.Name):
        # a helper's parameter (``def run(state, x, mutable=("batch_stats",))``): its default and
        # what its calls pass
        sources = _parameter_sources(module, project, m)
        return bool(sources) and any(_mutable_value_has_batch_stats(w, project, e) for w, e in sources
                                     if not isinstance(e, ast.Name))
    return bool(vals) and "batch_stats" in vals


def _parameter_sources(module: Module, project: Project, name: ast.Name,
                       depth: int = 0) -> Optional[list[tuple[Module, ast.expr]]]:
    """What the parameter ``name`` of a module-level function can hold: the argument every call of
    that function in the project passes (followed when it is itself such a parameter), or its
    default where a call omits it. None when ``name`` is no such parameter, a call cannot be read
    (``*args``, no default), or nothing calls the function (it is handed around, or dead)."""
    fn = module.scope_of(name)
    if depth > 3 or fn is None or module.scope_of(fn) is not None or module.enclosing_class(fn) is not None \
            or not kf._param_index(fn, name.id)[2] or kf._assignments(fn, name.id):
        return None
    sites = [s for s in project.call_sites(fn.name) if kf.resolve_def(project, s.module, s.node.func) is fn]
    if not sites:
        return None
    out: list[tuple[Module, ast.expr]] = []
    for s in sites:
        arg, explicit = kf.argument_for(s.node, fn, name.id)
        if arg is None:
            return None
        owner = s.module if explicit else module
        if isinstance(arg, ast.Name) and explicit:
            inner = _parameter_sources(owner, project, arg, depth + 1)
            if inner is not None:
                out += inner
                continue
        out.append((owner, arg))
    return out


# Pseudo training flag of BNs built with ``use_running_average=not self.is_mutable_collection("batch_stats")``:
# their mode is decided by the ``mutable`` argument of the apply (training exactly when batch_stats is mutable).
_MUTABILITY = "<mutable batch_stats>"


def _is_mutability_test(module: Module, expr: ast.expr, fn: Optional[FuncNode]) -> bool:
    """``self.is_mutable_collection("batch_stats")``, directly or through the local name of ``fn``
    assigned it (``mutable = self.is_mutable_collection("batch_stats")``)."""
    if isinstance(expr, ast.Name) and fn is not None:
        assigned = kf._assignments(fn, expr.id)
        if len(assigned) != 1 or assigned[0] is None:
            return False
        expr = assigned[0]
    return isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute) \
        and expr.func.attr == "is_mutable_collection" and isinstance(expr.func.value, ast.Name) \
        and expr.func.value.id == "self" and len(expr.args) == 1 and isinstance(expr.args[0], ast.Constant) \
        and expr.args[0].value == "batch_stats"


def _mutable_trains(module: Module, project: Project, m: Optional[ast.expr],
                    depth: int = 0) -> Optional[bool]:
    """Does an apply's ``mutable=`` value make batch_stats mutable (``True``, a list naming it), so
    that a mutability-driven BN runs in training mode? None when unknown or mixed."""
    if m is None:
        return False  # not given: nothing is mutable
    if isinstance(m, ast.Constant):
        if m.value is True:
            return True
        return m.value == "batch_stats" if isinstance(m.value, str) else False if m.value in (False, None) else None
    if isinstance(m, (ast.List, ast.Tuple, ast.Set)):
        if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in m.elts):
            return None
        return any(e.value == "batch_stats" for e in m.elts)
    if depth > 3:
        return None
    if isinstance(m, ast.Name):
        sources = _parameter_sources(module, project, m)
        if sources is None:
            vals = kf.constant_values(module, project, m)
            if not vals or not all(isinstance(v, (bool, str)) or v is None for v in vals):
                return None
            got = {v is True or v == "batch_stats" for v in vals}
        else:
            got = {_mutable_trains(w, project, e, depth + 1) for w, e in sources}
        return got.pop() if len(got) == 1 else None
    return None


def _is_partial_of(module: Module, call: ast.Call, targets: set[str], qualname: Optional[str]) -> bool:
    """``functools.partial(nn.BatchNorm, ...)``; ``qualname`` is the call's resolved callee (the
    call site already holds it: resolving every call of a project again is a real cost)."""
    return qualname == "functools.partial" and bool(call.args) \
        and (module.imports.resolve(call.args[0]) or "") in targets


def _is_apply(c) -> bool:
    """``model.apply(...)``, ``state.apply_fn(...)``, ``nn.apply(fn, module)(...)``: anything but ``init``."""
    return c.name is not None and c.name not in ("init", "init_with_output", "lazy_init")


def trains_batch_stats(project: Project) -> list:
    """Every ``apply(..., mutable=['batch_stats'])`` call site in the project."""
    def compute(p: Project):
        return [c for c in p.all_calls() if _is_apply(c) and _mutable_has_batch_stats(c.module, p, c.node)]
    return project.fact("flax.mutable_batch_stats_applies", compute)


def project_builds_linen_bn(project: Project) -> bool:
    """Can the project's models contain a linen BatchNorm? Yes when a module constructs one (directly
    or through a partial), or when the project defines no linen Module at all (the model comes from a
    library); no when it defines linen Modules and none of them uses BatchNorm."""
    def compute(p: Project):
        if any(p.calls_to(q) for q in LINEN_BN) \
                or any(_is_partial_of(c.module, c.node, LINEN_BN, c.qualname) for c in p.calls_to("functools.partial")):
            return True
        return not any((m.imports.resolve(b) or "") in ("flax.linen.Module", "flax.linen.module.Module")
                       for m in p.modules for cls in m.classes for b in cls.bases)
    return project.fact("flax.may_build_linen_bn", compute)


def project_reads_running_averages(project: Project) -> bool:
    """Can a linen BatchNorm of the project ever normalize with its running averages? Not when every
    construction (direct or through a partial) fixes ``use_running_average`` to a false constant:
    then the statistics are computed and never used, and dropping them changes nothing."""
    def compute(p: Project):
        direct = [c for q in sorted(LINEN_BN) for c in p.calls_to(q)]
        partials = [c for c in p.calls_to("functools.partial") if _is_partial_of(c.module, c.node, LINEN_BN, c.qualname)]
        if not direct:
            return True  # the BN comes from a library (or a partial we cannot follow): unknown
        for c, is_direct in [(c, True) for c in direct] + [(c, False) for c in partials]:
            flag = kf.kwarg(c.node, "use_running_average")
            if flag is None and is_direct and c.node.args:
                flag = c.node.args[0]  # nn.BatchNorm(False)
            if flag is None or not V.always_false(flag, c.module, p):
                return True
        return False
    return project.fact("flax.reads_running_averages", compute)


def _class_in_scope(project: Project, module: Module, name: str) -> Optional[tuple[Module, ast.ClassDef]]:
    """The project class that ``name`` means inside ``module``: defined there, or imported from a
    project module (``from models import CNN``, ``from .model import CNN``)."""
    for cls in module.classes:
        if cls.name == name:
            return module, cls
    target = module.imports.aliases.get(name)
    if not target or "." not in target:
        return None
    source_name, _, cls_name = target.rpartition(".")
    source = project.module_named(source_name, module) if hasattr(project, "module_named") else None
    if source is None:
        return None
    for cls in source.classes:
        if cls.name == cls_name:
            return source, cls
    return None


def trained_classes(project: Project) -> set[int]:
    """ids of the project classes a training step can run: defined or instantiated in a module that
    applies a model with mutable batch_stats, and the classes those instantiate (transitively)."""
    def compute(p: Project):
        return set(_classes_reached_from(p, {id(c.module): c.module for c in trains_batch_stats(p)}.values()))
    return project.fact("flax.trained_classes", compute)


def _classes_reached_from(project: Project, modules: Iterable[Module]) -> dict[int, tuple[Module, ast.ClassDef]]:
    """The project classes defined or instantiated in ``modules``, and the classes those
    instantiate (transitively), by id."""
    reached: dict[int, tuple[Module, ast.ClassDef]] = {}
    for m in modules:
        for cls in m.classes:
            reached[id(cls)] = (m, cls)
        for c in m.calls:
            found = _class_in_scope(project, m, c.name) if c.name and isinstance(c.node.func, ast.Name) else None
            if found:
                reached[id(found[1])] = found
    todo = list(reached.values())
    while todo:
        m, cls = todo.pop()
        for n in astwalk.walk(cls):
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
                found = _class_in_scope(project, m, n.func.id)
                if found and id(found[1]) not in reached:
                    reached[id(found[1])] = found
                    todo.append(found)
    return reached


def _is_inverted_flag(expr: ast.expr) -> bool:
    """``use_running_average=train``: a name that says training, passed without ``not``."""
    name = expr.id if isinstance(expr, ast.Name) else expr.attr if isinstance(expr, ast.Attribute) else None
    words = set(identifier_words(name)) if name else set()
    return bool(words & {"train", "training"}) and not words & _NOT_A_TRAINING_FLAG


def _flag_parameter(module: Module, call: ast.AST, expr: ast.expr) -> Optional[tuple[str, bool]]:
    """(parameter, negated) when a BN flag is ``not P`` or ``P`` for a parameter ``P`` of the method
    holding the BN (``__call__(self, x, train)`` with ``use_running_average=not train``)."""
    negated = False
    while isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
        expr, negated = expr.operand, not negated
    fn = module.scope_of(call)
    if module.enclosing_class(call) is not None and _is_mutability_test(module, expr, fn):
        return (_MUTABILITY, negated)  # use_running_average=not self.is_mutable_collection("batch_stats")
    if not isinstance(expr, ast.Name) or fn is None or module.enclosing_class(call) is None:
        return None
    return (expr.id, negated) if kf._param_index(fn, expr.id)[2] else None


def step_bn_flags(project: Project, module: Module) -> Optional[dict[str, set[bool]]]:
    """How the linen BNs of the classes a training module reaches (defines or instantiates) take
    their flag from a call argument: parameter name -> {negated?}. None when some of those BNs'
    flag is anything else (a constant, a field): then the call arguments alone do not decide the
    mode of every BN."""
    def compute(p: Project):
        reached = _classes_reached_from(p, [module])
        out: dict[str, set[bool]] = {}
        for m in {id(m): m for m, _ in reached.values()}.values():
            for node, expr in RunningAverageHardcoded._flag_sites(m):
                cls = m.enclosing_class(node)
                if cls is None or id(cls) not in reached:
                    continue
                got = _flag_parameter(m, node, expr)
                if got is None or _is_inverted_flag(expr):
                    return None  # not decided by the call alone, or already reported as inverted
                out.setdefault(got[0], set()).add(got[1])
        return out
    return project.fact(("flax.step_bn_flags", module.path), compute)


Bindings = list[dict[str, tuple[Module, ast.expr]]]
# Key of a binding that holds positional arguments bound by a partial (``partial(model.apply, variables)``):
# the call's own positional arguments then land on other parameters than they seem to.
_POSITIONAL = "*"


def _apply_fn_values(project: Project) -> list[tuple[Module, ast.expr]]:
    """Every ``apply_fn=`` given in the project (``TrainState.create(apply_fn=...)``, ``.replace``)."""
    def compute(p: Project):
        return [(c.module, k.value) for c in p.all_calls() for k in c.node.keywords if k.arg == "apply_fn"]
    return project.fact("flax.apply_fn_values", compute)


def _every_known(items: Iterable, read: Callable[..., Optional[list]]) -> Optional[list]:
    """The concatenation of ``read(item)`` over ``items``; None as soon as one of them is unknown."""
    out: list = []
    for item in items:
        got = read(item)
        if got is None:
            return None
        out += got
    return out


def _bound_arguments(module: Module, project: Project, func: ast.expr, depth: int = 0) -> Optional[Bindings]:
    """The keyword arguments a callable carries before it is called, one dict per way it can be
    bound: ``{}`` for ``model.apply``; ``partial(model.apply, train=False)`` adds ``train``;
    ``state.apply_fn`` is whatever the project's ``apply_fn=`` values are; a local name is what it
    is assigned. None when any binding is unknown."""
    if depth > 4:
        return None
    if isinstance(func, ast.Attribute) and func.attr == "apply":
        return [{}]
    if isinstance(func, ast.Attribute) and func.attr == "apply_fn":
        # the state a step uses is usually created next to it: another script's TrainState says nothing
        every = _apply_fn_values(project)
        given = [(m, v) for m, v in every if m is module] or every
        if not given:
            return None
        return _every_known(given, lambda mv: _bound_arguments(mv[0], project, mv[1], depth + 1))
    if isinstance(func, ast.Call) and (module.imports.resolve(func.func) or "") == "functools.partial" and func.args:
        if any(k.arg is None for k in func.keywords):
            return None
        inner = _bound_arguments(module, project, func.args[0], depth + 1)
        if inner is None:
            return None
        shifted = {_POSITIONAL: (module, func.args[1])} if len(func.args) > 1 else {}
        return [{**b, **shifted, **{k.arg: (module, k.value) for k in func.keywords}} for b in inner]
    if isinstance(func, ast.Name):
        assigned = _name_values(module, func)  # the innermost scope binding it, up to the module
        if not assigned:
            return None
        return _every_known(assigned, lambda a: _bound_arguments(module, project, a, depth + 1))
    return None


def _applies_differentiated_params(call: ast.Call, fn: FuncNode, differentiated: set[str]) -> bool:
    """Is ``call`` the forward pass being differentiated: inside a function handed to
    ``jax.grad``/``value_and_grad`` and applied to that function's own arguments (the params)? A
    model applied to closed-over variables there (a GAN's discriminator in the generator's loss)
    is not the one trained."""
    if fn.name not in differentiated or not call.args:
        return False
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs}
    return any(isinstance(n, ast.Name) and n.id in params for n in astwalk.walk(call.args[0]))


def _applied_classes(module: Module, project: Project, func: ast.expr,
                     depth: int = 0) -> Optional[list[tuple[Module, ast.ClassDef]]]:
    """The project linen classes an apply callee runs: ``model.apply`` with ``model = Net()`` (in the
    scope, an enclosing scope or the module; a parameter is what every call site of its function
    passes), ``state.apply_fn`` through the project's ``apply_fn=`` values, a local name or a
    ``functools.partial`` of those. None when any of them is unknown."""
    if depth > 4:
        return None
    if isinstance(func, ast.Attribute) and func.attr == "apply":
        return _instance_classes(module, project, func.value, depth + 1)
    if isinstance(func, ast.Attribute) and func.attr == "apply_fn":
        every = _apply_fn_values(project)
        given = [(m, v) for m, v in every if m is module] or every
        if not given:
            return None
        return _every_known(given, lambda mv: _applied_classes(mv[0], project, mv[1], depth + 1))
    if isinstance(func, ast.Call) and (module.imports.resolve(func.func) or "") == "functools.partial" and func.args:
        return _applied_classes(module, project, func.args[0], depth + 1)
    if isinstance(func, ast.Name):
        values = _name_values(module, func)
        if not values:
            return None
        return _every_known(values, lambda v: _applied_classes(module, project, v, depth + 1))
    return None


def _name_values(module: Module, name: ast.Name) -> Optional[list[ast.expr]]:
    """What ``name`` is assigned in the innermost scope that binds it (up to the module), or None
    when a binding is unknown, or it is a parameter of that scope (then: [])."""
    scope = module.scope_of(name)
    while True:
        assigned = kf._assignments(scope if scope is not None else module.tree, name.id)
        if assigned:
            return None if any(a is None for a in assigned) else assigned
        if scope is None:
            return None
        if kf._param_index(scope, name.id)[2]:
            return []
        scope = module.scope_of(scope)


def _instance_classes(module: Module, project: Project, expr: ast.expr,
                      depth: int, views: bool = False) -> Optional[list[tuple[Module, ast.ClassDef]]]:
    """The project classes ``expr`` is an instance of (``Net()``, ``Net(...).bind(...)`` is not
    followed), through names and function parameters; with ``views``, an NNX view
    (``nnx.view(model, ...)`` / ``nnx.with_attributes``) counts as the classes of its model."""
    if depth > 6:
        return None
    if views and isinstance(expr, ast.Call) and expr.args \
            and (module.imports.resolve(expr.func) or "") in _NNX_VIEW_CALLS:
        return _instance_classes(module, project, expr.args[0], depth + 1, views)
    if isinstance(expr, ast.Call):
        if not isinstance(expr.func, ast.Name):
            return None
        found = _class_in_scope(project, module, expr.func.id)
        return [found] if found else None
    if not isinstance(expr, ast.Name):
        return None
    values = _name_values(module, expr)
    if values is None:
        return None
    if values:
        return _every_known(values, lambda v: _instance_classes(module, project, v, depth + 1, views))
    # a parameter: what every call of its function in the project passes
    scope = module.scope_of(expr)
    while scope is not None and not kf._param_index(scope, expr.id)[2]:
        scope = module.scope_of(scope)
    if scope is None or scope.name in kf.FRAMEWORK_HOOKS:
        return None
    sites = [s for s in project.call_sites(scope.name) if isinstance(s.node.func, ast.Name)
             and kf.resolve_def(project, s.module, s.node.func) is scope]
    if not sites:
        return None
    out = []
    for s in sites:
        arg, explicit = kf.argument_for(s.node, scope, expr.id)
        if arg is None or not explicit:
            return None
        got = _instance_classes(s.module, project, arg, depth + 1, views)
        if got is None:
            return None
        out += got
    return out


def _dunder_call(cls: ast.ClassDef) -> Optional[FuncNode]:
    return next((b for b in cls.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) and b.name == "__call__"), None)


def _bound_to_call_signature(module: Module, project: Project, call: ast.Call,
                             param: str) -> Optional[tuple[Module, ast.expr, str]]:
    """What ``apply(variables, *args, **kwargs)`` gives the parameter ``param`` of the applied
    module's ``__call__`` when it is not a keyword: the positional arguments after the variables
    fill the parameters after ``self`` in order, and an omitted parameter keeps its default.
    (owner module, expression, how) or None when the class, the position or the default is unknown."""
    if not call.args or any(isinstance(a, ast.Starred) for a in call.args) or kf.has_kwargs_splat(call) \
            or kf.kwarg(call, "method") is not None:
        return None
    classes = _applied_classes(module, project, call.func)
    if not classes:
        return None
    answers: list[tuple[Module, ast.expr, str]] = []
    for cls_module, cls in classes:
        fn = _dunder_call(cls)
        if fn is None or fn.args.vararg is not None:
            return None
        idx, default, found = kf._param_index(fn, param)
        if not found:
            return None
        positional = call.args[1:]
        if idx is not None and 1 <= idx <= len(positional):
            answers.append((module, positional[idx - 1], " (passed positionally)"))
            continue
        if default is None:
            return None
        how = f" (the default of `{cls.name}.__call__`"
        params = [a.arg for a in (fn.args.posonlyargs + fn.args.args)[1:]]
        shifted = [(params[i], a) for i, a in enumerate(positional) if i < len(params) and i > 0
                   and isinstance(a, ast.Constant) and isinstance(a.value, bool)]
        if shifted:
            how += "; " + ", ".join(f"the positional `{ast.unparse(a)}` lands in `{p}`" for p, a in shifted)
        answers.append((cls_module, default, how + ")"))
    if len({ast.dump(e) for _, e, _ in answers}) != 1:
        return None
    return answers[0]


def _running_average_in_every_bn(module: Module, project: Project, call: ast.Call,
                                 flags: dict[str, set[bool]]) -> Optional[str]:
    """The argument (``train=False``) that makes every BN this apply reaches normalize with its
    running averages, else None (see ``_bn_mode_of_apply``)."""
    got = _bn_mode_of_apply(module, project, call, flags)
    return got[1] if got is not None and got[0] else None


def _bn_mode_of_apply(module: Module, project: Project, call: ast.Call,
                      flags: dict[str, set[bool]]) -> Optional[tuple[bool, str]]:
    """(running averages?, the argument that decides it, e.g. ``train=False``) when one call argument
    puts every BN this apply reaches in the same mode, else None. The flag is the call's own
    keyword or, when it has none, the one every possible binding of the callee carries
    (``partial(model.apply, train=False)``), or else what the call binds to the applied module's
    ``__call__`` signature (a positional argument, or the parameter's default); every BN must read
    it the same way."""
    if len(flags) != 1 or kf.has_kwargs_splat(call):
        return None
    (param, negations), = flags.items()
    if len(negations) != 1:
        return None
    negated = next(iter(negations))
    if param == _MUTABILITY:
        return _mutability_mode_of_apply(module, project, call, negated)
    given = kf.kwarg(call, param)
    if given is not None:
        candidates = [(module, given, "")]
    else:
        bindings = _bound_arguments(module, project, call.func)
        if not bindings:
            return None
        if all(param in b for b in bindings):
            candidates = [(*b[param], " (bound by functools.partial)") for b in bindings]
        elif any(param in b for b in bindings) or any(b.get(_POSITIONAL) for b in bindings):
            return None  # some bindings carry it, some not; or a partial shifts the positions
        else:
            bound = _bound_to_call_signature(module, project, call, param)
            if bound is None:
                return None
            candidates = [(bound[0], bound[1], bound[2])]
    modes: set[bool] = set()
    for owner, value, _how in candidates:
        vals = kf.constant_values(owner, project, value)
        if not vals or any(isinstance(v, str) or v is None for v in vals):
            return None
        modes |= {bool(v) is not negated for v in vals}
    if len(modes) != 1:
        return None
    _, value, how = candidates[0]
    return modes.pop(), f"{param}={ast.unparse(value)}{how}"


def _mutability_mode_of_apply(module: Module, project: Project, call: ast.Call,
                              negated: bool) -> Optional[tuple[bool, str]]:
    """``_bn_mode_of_apply`` for BNs whose flag is ``not self.is_mutable_collection("batch_stats")``:
    the apply's ``mutable=`` decides (``mutable=True`` or a list naming batch_stats: training mode;
    absent, False or other collections: running averages)."""
    given = kf.kwarg(call, "mutable")
    if given is None:
        bindings = _bound_arguments(module, project, call.func)
        if not bindings or any("mutable" in b or b.get(_POSITIONAL) for b in bindings):
            return None  # partial(model.apply, mutable=...), or unknown
    trains = _mutable_trains(module, project, given)
    if trains is None:
        return None
    how = f"mutable={ast.unparse(given)}" if given is not None else "batch_stats not mutable"
    return trains is not negated, f"{how}, read by use_running_average=not self.is_mutable_collection('batch_stats')"


@register
class RunningAverageHardcoded(Rule):
    code = "BN401"
    name = "batchnorm-use-running-average-true"
    framework = "flax"
    summary = "nn.BatchNorm(use_running_average=True) hard-coded in a model trained with mutable=['batch_stats']."
    # nn.BatchNorm(True): positional flag; batch_stats: the training step's apply(..., train=False)
    triggers = ("use_running_average", "BatchNorm", "batch_stats")
    fact_triggers = ("batch_stats",)  # the module that applies the model with mutable batch_stats
    doc = RuleDoc(
        what="""
Finds a Flax linen `nn.BatchNorm` whose `use_running_average` is always true — a literal, a constant,
`not train` where `train` is always false (a call argument, or a module field such as
`train: bool = False` that no construction `Net(train=True)` / `partial(Net, train=True)` in the
project sets), a `functools.partial(nn.BatchNorm, use_running_average=True)`,
or `self.bn(x, use_running_average=True)` — in a project that trains with
`apply(..., mutable=['batch_stats'])`, i.e. one that expects the statistics to move. Also, in linen
and NNX alike, an inverted flag: `use_running_average=train` (a name that says training, passed
without `not`), which is True exactly while training. And the differentiated apply of a training
step (inside the function given to `jax.grad`/`value_and_grad`, applied to that function's params,
with `mutable=['batch_stats']`) that passes the call argument putting every BN of the model in
running-average mode: `model.apply(..., train=False, mutable=['batch_stats'])` where the BNs use
`use_running_average=not train`, or `state.apply_fn(...)` without `train` when the TrainState was
created with `apply_fn=functools.partial(model.apply, train=False)`. And a sub-module called
without its flag, `Block(...)(x)`, in a trained parent's method that takes a training flag and
passes it on elsewhere (to its own BN as `use_running_average=not train`, or to another block as
`train=train`), when `Block.__call__(self, x, train=False)` feeds that parameter to its BN as
`use_running_average=not train`: the omitted argument keeps the block's BN on its running averages.
And a fine-tuned model (the differentiated apply of a training step, with `mutable=['batch_stats']`)
every BN of which is provably always True — e.g. one frozen factory
`partial(nn.BatchNorm, use_running_average=True)` handed to the pretrained backbone and to a new
head — when the program addresses some of its named sub-modules by name (`params["backbone"] = ...`,
`{**v["batch_stats"], "backbone": pretrained}`, `"frozen" if path[0] == "backbone"`) but never a
sub-module that holds a BN: that part is freshly initialised and its BN keeps the initial 0/1
statistics. This holds even when another model of the same file (a pretraining network) has a
trainable BN. And a linen `nn.Sequential` of such blocks given the flag, `self.trunk(x, train=train)`
with `self.trunk = nn.Sequential([Block(...) for ...])`: `Sequential.__call__` passes extra arguments
to its first layer only and calls the later layers with the previous output alone, so every block
after the first runs with its default `train=False` and its BN never updates. And, in Flax NNX, a call-time flag read from a mode attribute of the module's own —
`self.norm(x, use_running_average=not self.training)` or `use_running_average=self.eval_mode` —
whose value is always the running-average one (`self.training = False` in `__init__`, nothing in
the project storing another value), in a program that trains an NNX model and switches modes with
`model.train()` / `model.eval()`: those set only the attributes named `deterministic` and
`use_running_average` (through `Module.set_attributes`), never the module's own `training`, and the
call-time argument overrides the BatchNorm's attribute (a typical PyTorch-to-NNX port).
""",
        why="""
With `use_running_average=True` BatchNorm normalises with the stored `batch_stats` and never updates
them, even though the step asks for them as mutable: the returned `batch_stats` are the initial
zeros/ones at every step (verified with flax 0.12.8), and the model evaluates with them.
""",
        example="""
class Net(nn.Module):
    @nn.compact
    def __call__(self, x, train: bool = True):
        x = nn.Dense(64)(x)
        x = nn.BatchNorm(use_running_average=True)(x)
        return nn.Dense(10)(x)

logits, updates = Net().apply(variables, x, mutable=["batch_stats"])
""",
        use_instead="""
        x = nn.BatchNorm(use_running_average=not train)(x)
""",
        not_flagged="""
- `use_running_average=not train` (a flag that is true only at evaluation);
- projects that never apply a model with `mutable=['batch_stats']` (pure inference, or a deliberately
  frozen-BN fine-tuning setup that keeps the statistics out of the mutable collections);
- modules not linked to such an `apply`: the BN must sit in a class defined or instantiated in a
  module that applies with `mutable=['batch_stats']`, or in a class those contain (a frozen
  feature extractor used elsewhere for inference stays silent);
- an apply with `train=False` in a step that also applies a model with `train=True` (a GAN's
  generator step running the discriminator in inference mode), or applied to variables that are not
  the differentiated function's arguments, or whose model's BNs do not all read that one argument;
- a sub-module called with an explicit `train=False` (a deliberate frozen block), or whose parent
  passes no training flag anywhere;
- an `nn.Sequential` whose later layers take no flag (Dense, activations), hold it as a constructor
  field, are called with `train=False`, or whose layers return a tuple / dict (Sequential unpacks it
  into the next layer's arguments, which can carry the flag on);
- a constant-True BN next to a BN of the same module whose flag can be False (`not train`): the
  mutable collection is there for that one, and the constant one keeps pretrained statistics on
  purpose (a frozen stem while the rest of the network trains); when that trainable BN belongs to
  another model of the file, the all-frozen model stays silent too unless a BN-holding sub-module of
  it is left out of the parts the program loads or freezes by name (a linear probe with a Dense
  head, a model restored whole from a checkpoint, a model that reaches a library model, a class
  passed by reference or a module field its caller fills);
- NNX mode attributes named `use_running_average` / `deterministic` (train() / eval() set them), or
  passed by name to `train(...)` / `eval(...)` / `set_attributes` / `nnx.view`, or stored anywhere
  (a `set_mode` method, `setattr`), and programs that never call `train()` / `eval()` on a module;
- values that cannot be resolved.
""",
        versions=FLAX_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not module.imports.imports_any("flax"):
            return
        inverted = self._inverted_flags(module)
        for expr in inverted:
            yield self.finding(module, expr, (
                f"use_running_average={ast.unparse(expr)} is inverted: it is True while training, so "
                "BatchNorm normalizes with its stored running averages and never updates them, and uses "
                f"batch statistics at evaluation; pass `use_running_average=not {ast.unparse(expr)}`"))
        yield from self._nnx_mode_attribute_never_switched(module, project, {id(e) for e in inverted})
        if not trains_batch_stats(project):
            return
        yield from self._applied_in_running_average_mode(module, project)
        yield from self._flag_not_forwarded(module, project)
        yield from self._sequential_flag_dropped(module, project)
        trained = trained_classes(project)
        reported = {id(expr) for expr in inverted}
        sites = [(node, expr, kf.always_true(module, project, expr), module.enclosing_class(node))
                 for node, expr in self._flag_sites(module) if id(expr) not in reported]
        # A trained BN of this module whose flag can be False is what ``mutable=['batch_stats']`` is
        # there for; a hard-coded True next to it keeps pretrained statistics on purpose (a frozen
        # stem in a fine-tuned network; measured: the stem's statistics stay, the others move).
        if any(not frozen and (cls is None or id(cls) in trained) for _, _, frozen, cls in sites):
            # ... unless that trainable BN belongs to another model (a pretraining network in the
            # same file): a trained model none of whose BNs can update gets nothing from it
            yield from self._frozen_model(module, project, sites)
            return
        for node, expr, frozen, cls in sites:
            if not frozen:
                continue
            if cls is not None and id(cls) not in trained:
                continue
            yield self.finding(module, node, "BatchNorm with use_running_average always True in a model trained "
                               "with mutable=['batch_stats']: it never updates its statistics; use "
                               "`use_running_average=not train`")

    def _frozen_model(self, module: Module, project: Project, sites: list) -> Iterable[Finding]:
        """Frozen BN sites of ``module`` inside a model that a training step applies with
        ``mutable=['batch_stats']`` and every BN of which has use_running_average always True
        (``_frozen_bn_roots``), although the file also holds a trainable BN (of another model)."""
        roots = _frozen_bn_roots(project)
        if not roots:
            return
        for node, _expr, frozen, cls in sites:
            if not frozen or cls is None:
                continue
            for rm, root, _names, ids in roots.values():
                if id(cls) not in ids:
                    continue
                fresh = _fresh_frozen_parts(project, rm, root)
                if not fresh:
                    continue
                yield self.finding(module, node, (
                    f"every BatchNorm of `{root.name}` has use_running_average always True, yet a training step "
                    f"applies it with mutable=['batch_stats'], and the program handles only some of its sub-modules "
                    f"by name (pretrained / frozen parts): the BN of `{fresh[0]}`, left freshly initialised, "
                    "normalizes with its initial 0/1 statistics and never updates them; keep the constant for the "
                    "pretrained part only and give the new part `use_running_average=not train`"))
                break

    def _applied_in_running_average_mode(self, module: Module, project: Project) -> Iterable[Finding]:
        """A training step's ``apply(..., mutable=['batch_stats'])`` passing the call argument that
        puts every BN in running-average mode (``train=False``, directly or bound into ``apply_fn``
        with ``functools.partial``). Silent when another apply of the same step runs BN in training
        mode (a GAN generator step applying the discriminator in inference mode)."""
        flags = step_bn_flags(project, module)
        if not flags:
            return
        by_step: dict[int, list[tuple[ast.Call, Optional[str]]]] = {}
        differentiated = _differentiated_names(module)
        for c in module.calls:
            if not _is_apply(c) or not _mutable_has_batch_stats(module, project, c.node):
                continue
            outer = _outermost_function(module, c.node)
            if outer is None or c.scope is None or not _applies_differentiated_params(c.node, c.scope, differentiated):
                continue
            by_step.setdefault(id(outer), []).append((c.node, _running_average_in_every_bn(module, project, c.node, flags)))
        for applies in by_step.values():
            if not all(shown for _, shown in applies):
                continue
            for call, shown in applies:
                yield self.finding(module, call, (
                    f"this apply(..., mutable=['batch_stats']) in a training step runs the model with {shown}: "
                    "every BatchNorm then uses its running averages (use_running_average=True) and never "
                    "updates them; pass the training value here"))

    def _flag_not_forwarded(self, module: Module, project: Project) -> Iterable[Finding]:
        """``Block(...)(x)`` in a trained parent's method that takes its own training flag and
        passes it on elsewhere (``nn.BatchNorm(use_running_average=not train)``, ``Other()(x,
        train=train)``), where ``Block.__call__(self, x, train=False)`` feeds that parameter to its
        BN as ``use_running_average=not train``: the omitted argument keeps the block's BN on its
        running averages while the parent trains."""
        trained = trained_classes(project)
        for c in module.calls:
            inner = c.node.func
            if not isinstance(inner, ast.Call):
                continue
            block = kf.resolve_def(project, module, inner.func)
            if not isinstance(block, ast.ClassDef):
                continue
            got = _defaulted_bn_flag(project, block)
            if got is None:
                continue
            call_fn, param = got
            arg, explicit = kf.argument_for(c.node, call_fn, param, is_method_call=True)
            if explicit or arg is None or kf.has_kwargs_splat(c.node):
                continue
            parent_fn, parent = module.scope_of(c.node), module.enclosing_class(c.node)
            if parent_fn is None or parent is None or id(parent) not in trained:
                continue
            forwarded = _forwarded_flag(module, parent_fn)
            if forwarded is None:
                continue
            yield self.finding(module, c.node, (
                f"`{ast.unparse(inner)}(...)` is called without `{param}`, so `{block.name}`'s BatchNorm takes the "
                f"default {param}={ast.unparse(arg)} (`use_running_average=not {param}` is True) also when "
                f"`{parent.name}` runs with {forwarded}=True in training: its statistics never update; pass "
                f"`{param}={forwarded}`"))

    def _sequential_flag_dropped(self, module: Module, project: Project) -> Iterable[Finding]:
        """``self.trunk(x, train=train)`` where ``self.trunk = nn.Sequential([Block(...), Block(...)])``:
        linen's ``Sequential.__call__`` hands its extra arguments to the FIRST layer only and calls
        every later layer with the previous output alone (flax 0.12.8), so a later ``Block`` whose
        ``__call__(self, x, train=False)`` feeds ``use_running_average=not train`` keeps its BN on the
        running averages while the parent trains: its statistics never update."""
        if not module.mentions("Sequential"):
            return
        built = [c.node for c in module.calls if c.qualname in LINEN_SEQUENTIAL]
        if not built:
            return
        names = {t.attr if isinstance(t, ast.Attribute) else t.id for b in built
                 for a in [module.parent(b)] if isinstance(a, (ast.Assign, ast.AnnAssign))
                 for t in (a.targets if isinstance(a, ast.Assign) else [a.target]) if isinstance(t, (ast.Attribute, ast.Name))}
        trained = trained_classes(project)
        for c in module.calls:
            node = c.node
            f = node.func
            if not (isinstance(f, ast.Call) or isinstance(f, ast.Attribute) and f.attr in names
                    or isinstance(f, ast.Name) and f.id in names):
                continue
            extra = {kw.arg: kw.value for kw in node.keywords if kw.arg is not None}
            if not (extra or len(node.args) > 1) or kf.has_kwargs_splat(node) \
                    or any(isinstance(a, ast.Starred) for a in node.args):
                continue
            seq = _sequential_of(module, node.func)
            if seq is None:
                continue
            parent = module.enclosing_class(node)
            for layer_module, cls, position in _later_layer_classes(project, module, seq):
                if parent is not None and id(parent) not in trained or parent is None and id(cls) not in trained:
                    continue
                got = _defaulted_bn_flag(project, cls)
                if got is None:
                    continue
                call_fn, param = got
                arg, explicit = kf.argument_for(node, call_fn, param, is_method_call=True)
                if not explicit or arg is None or kf._literal(arg) is False:
                    continue
                callee = "this nn.Sequential" if isinstance(node.func, ast.Call) \
                    else f"`{ast.unparse(node.func)}` is an nn.Sequential: it"
                yield self.finding(module, node, (
                    f"{callee} passes `{param}={ast.unparse(arg)}` to its "
                    f"first layer only and calls the later ones with the previous output alone, so `{cls.name}` "
                    f"({position}) runs with its default {param}=False (`use_running_average=not {param}` is True) "
                    f"also in training: its BatchNorm statistics never update; loop over the blocks and pass "
                    f"`{param}` to each (`for block in blocks: x = block(x, {param}={param})`)"))
                break

    def _nnx_mode_attribute_never_switched(self, module: Module, project: Project,
                                           reported: set[int]) -> Iterable[Finding]:
        """NNX: ``self.norm(x, use_running_average=not self.training)`` — a call-time flag (it overrides
        the BatchNorm's own attribute) read from a mode attribute of the module's own (``self.training``,
        ``self.is_training``, or ``self.eval_mode`` without ``not``) that is always set so that the BN
        uses its running averages, in a program that trains an NNX model and switches modes with
        ``train()`` / ``eval()``. Those only set attributes named ``deterministic`` and
        ``use_running_average`` (``Module.set_attributes``, flax 0.12.8): the own attribute keeps its
        constructor value and the BatchNorm never updates its BatchStat averages while training."""
        if not module.imports.imports_any("flax.nnx", "flax.experimental.nnx") or is_test_file(module.path):
            return
        sites = [(node, expr) for node, expr in self._flag_sites(module, NNX_BN)
                 if id(expr) not in reported and module.imports.resolve(node.func) not in NNX_BN
                 and not _is_partial_of(module, node, NNX_BN, module.imports.resolve(node.func))]
        if not sites or not _nnx_trains(project, module) or not _nnx_mode_switched(project, module):
            return
        for node, expr in sites:
            read = kf.self_attribute_read(module, expr)
            if read is None:
                continue
            cls, attr, negated = read
            set_by_name = _nnx_attributes_set_by_name(project)
            if attr in _NNX_SWITCHED_ATTRIBUTES or attr in set_by_name or "*" in set_by_name:
                continue
            words = set(identifier_words(attr))
            says = "training" if words & {"train", "training"} and not words & _NOT_A_TRAINING_FLAG else \
                "evaluation" if words & {"eval", "evaluation", "inference", "deterministic"} else None
            if says is None or negated != (says == "training") or not _nnx_module_class(project, module, cls):
                continue  # ``use_running_average=self.training`` is the inverted flag (reported above)
            if not kf.always_true(module, project, expr) or deliberate_in_program(module, project):
                continue
            yield self.finding(module, node, (
                f"use_running_average={ast.unparse(expr)} overrides this BatchNorm's own mode at call time, and "
                f"`self.{attr}` is never switched: NNX `train()` / `eval()` only set the attributes named "
                "`deterministic` and `use_running_average` (Module.set_attributes), so it keeps its constructor "
                "value, the BatchNorm normalizes with its running averages also while training and its BatchStat "
                f"averages never update; name the attribute `use_running_average` (or pass "
                f"`{attr}=...` to `train()` / `eval()`), or drop the call-time argument"))

    def _inverted_flags(self, module: Module) -> list[ast.expr]:
        """``use_running_average=train`` (linen or NNX): the flag named for training, passed without
        ``not``, is True exactly while training: BN then normalizes with its stored averages and
        never updates them, and evaluates with batch statistics."""
        return [expr for _node, expr in self._flag_sites(module, NNX_BN | LINEN_BN) if _is_inverted_flag(expr)]

    @staticmethod
    def _flag_sites(module: Module, kinds=LINEN_BN) -> Iterable[tuple[ast.AST, ast.expr]]:
        """(call, use_running_average expression) for every linen BN construction or application
        in ``module`` that states the flag."""
        bn_attrs = RunningAverageHardcoded._bn_attributes(module, kinds)
        for c in module.calls:
            node = c.node
            expr: Optional[ast.expr] = None
            if c.qualname in kinds:
                # linen's first positional argument is the flag; NNX's is num_features
                expr = kf.kwarg(node, "use_running_average") or (
                    node.args[0] if node.args and c.qualname in LINEN_BN else None)
            elif _is_partial_of(module, node, kinds, c.qualname):
                expr = kf.kwarg(node, "use_running_average")
            elif isinstance(node.func, ast.Call) and module.imports.resolve(node.func.func) in kinds:
                expr = kf.kwarg(node, "use_running_average")  # nn.BatchNorm(...)(x, use_running_average=True)
            elif isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                    and node.func.value.id == "self" and node.func.attr in bn_attrs:
                expr = kf.kwarg(node, "use_running_average")
            elif isinstance(node.func, ast.Attribute) and node.func.attr == "__call__" \
                    and isinstance(node.func.value, ast.Call) and isinstance(node.func.value.func, ast.Name) \
                    and node.func.value.func.id == "super":
                # class AutoBN(nn.BatchNorm): super().__call__(x, use_running_average=...)
                cls = module.enclosing_class(node)
                if cls is not None and any(module.imports.resolve(b) in kinds for b in cls.bases):
                    expr = kf.kwarg(node, "use_running_average")
            if expr is not None:
                yield node, expr

    @staticmethod
    def _bn_attributes(module: Module, kinds=LINEN_BN) -> set[str]:
        out: set[str] = set()
        for n in astwalk.walk(module.tree):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and module.imports.resolve(n.value.func) in kinds:
                for t in n.targets:
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                        out.add(t.attr)
        return out


# A model trained with mutable=['batch_stats'] none of whose BatchNorms can update: the frozen
# BN next to a trainable one in the same FILE (another model, a pretraining network) is no evidence
# that this model's frozen BN is deliberate.

_FROZEN_ROOT_SAFE_PREFIXES = ("flax.linen.", "jax.", "jnp.", "numpy.", "optax.", "functools.", "math.",
                              "typing.", "einops.")


def _frozen_bn_roots(project: Project) -> dict[int, tuple[Module, ast.ClassDef, list[str], set[int]]]:
    """The project linen classes a training step applies (the differentiated forward pass of a
    ``jax.grad``/``value_and_grad`` function, with ``mutable=['batch_stats']``) in which every BatchNorm
    provably has ``use_running_average`` always True: (module, class, names and ids of the classes
    it reaches) by the class's id. Conservative: anything that could build a BN we cannot see (a
    library model, a class handed around by reference, a module field the caller fills, a ``**``
    splat, a helper function mentioning BatchNorm) rules the class out."""
    def compute(p: Project):
        out: dict[int, tuple[Module, ast.ClassDef, list[str], set[int]]] = {}
        seen: set[int] = set()
        for c in trains_batch_stats(p):
            if c.scope is None or not _applies_differentiated_params(c.node, c.scope, _differentiated_names(c.module)):
                continue
            for m, cls in _applied_classes(c.module, p, c.node.func) or []:
                if id(cls) in seen:
                    continue
                seen.add(id(cls))
                reach = _all_bn_frozen(p, m, cls)
                if reach is not None:
                    out[id(cls)] = (m, cls, *reach)
        return out
    return project.fact("flax.frozen_bn_roots", compute)


def _class_fields(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> list[str]:
    """The dataclass fields of a linen class (annotated names of its body and of its project bases), in order."""
    base = _project_base(project, module, cls) if depth < 5 else None
    own = [s.target.id for s in cls.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)]
    return (_class_fields(project, *base, depth + 1) if base else []) + own


def _called_fields(cls: ast.ClassDef, fields: list[str]) -> set[str]:
    """Fields the class calls (``self.norm(...)``): modules or factories its constructor is given."""
    return {n.func.attr for n in astwalk.walk(cls) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and isinstance(n.func.value, ast.Name) and n.func.value.id == "self" and n.func.attr in fields}


def _frozen_bn_value(module: Module, project: Project, expr: ast.expr, reach: dict, depth: int = 0) -> bool:
    """Is ``expr`` (a value given to a called field) a BN factory with use_running_average always
    True, a construction of a class of ``reach``, or a flax layer other than BatchNorm? Names are
    followed to their assignments; anything else is unknown (False)."""
    if depth > 3:
        return False
    if isinstance(expr, ast.Name):
        values = _name_values(module, expr)
        return bool(values) and all(_frozen_bn_value(module, project, v, reach, depth + 1) for v in values)
    if not isinstance(expr, ast.Call) or kf.has_kwargs_splat(expr):
        return False
    qual = module.imports.resolve(expr.func) or ""
    if qual in LINEN_BN:
        flag = kf.kwarg(expr, "use_running_average") or (expr.args[0] if expr.args else None)
        return kf.always_true(module, project, flag)
    if _is_partial_of(module, expr, LINEN_BN, qual):
        return kf.always_true(module, project, kf.kwarg(expr, "use_running_average"))
    found = kf.resolve_def(project, module, expr.func)
    if isinstance(found, ast.ClassDef):
        return id(found) in reach
    return qual.startswith("flax.linen.") and found is None


def _submodules(module: Module, project: Project, root: ast.ClassDef) -> list[tuple[str, ast.Call]]:
    """The root's named sub-modules: ``Head(..., name="head")`` in its methods, ``self.head = Head(...)``
    in ``setup`` (name, construction call); project classes and linen layers alike."""
    out: list[tuple[str, ast.Call]] = []
    for n in astwalk.walk(root):
        if not isinstance(n, ast.Call) or not isinstance(n.func, (ast.Name, ast.Attribute)):
            continue
        named = kf.kwarg(n, "name")
        if isinstance(named, ast.Constant) and isinstance(named.value, str):
            out.append((named.value, n))
            continue
        parent = module.parent(n)
        if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Attribute) \
                and isinstance(parent.targets[0].value, ast.Name) and parent.targets[0].value.id == "self" \
                and isinstance(kf.resolve_def(project, module, n.func), ast.ClassDef):
            out.append((parent.targets[0].attr, n))
    return out


def _holds_bn(module: Module, project: Project, call: ast.Call, depth: int = 0) -> bool:
    """Does the sub-module built by ``call`` contain a linen BatchNorm: it is one, it is given a BN
    factory (``Head(norm=partial(nn.BatchNorm, ...))``, through a name) for a field it calls
    (``self.norm(...)``), or its class (transitively) builds one?"""
    if (module.imports.resolve(call.func) or "") in LINEN_BN:
        return True
    owner, cls = kf.resolve_def_in(project, module, call.func)
    if not isinstance(cls, ast.ClassDef) or owner is None or depth > 4:
        return False
    fields = _class_fields(project, owner, cls)
    called = _called_fields(cls, fields)
    for i, f in enumerate(fields):
        value = kf.kwarg(call, f) or (call.args[i] if i < len(call.args) else None)
        if f not in called or value is None:
            continue  # a factory the class never calls builds nothing
        values = _name_values(module, value) if isinstance(value, ast.Name) else [value]
        for v in values or []:
            if isinstance(v, ast.Call) and ((module.imports.resolve(v.func) or "") in LINEN_BN or _is_partial_of(
                    module, v, LINEN_BN, module.imports.resolve(v.func))):
                return True
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)) and (
                (owner.imports.resolve(n.func) or "") in LINEN_BN
                or _is_partial_of(owner, n, LINEN_BN, owner.imports.resolve(n.func))
                or (isinstance(kf.resolve_def(project, owner, n.func), ast.ClassDef) and _holds_bn(owner, project, n, depth + 1))):
            return True
    return False


def _part_names(project: Project, module: Module) -> set[str]:
    """Strings the program of ``module`` uses to address parts of a parameter tree: dict keys
    (``{**v["batch_stats"], "backbone": pretrained}``, ``{"backbone": "frozen"}``), compared
    strings (``path[0] == "backbone"``, ``"encoder" in path``, ``k.startswith("head")``) and
    subscripts written to (``params["backbone"] = ...``)."""
    def compute(p: Project) -> set[str]:
        out: set[str] = set()
        program = same_program(module, p)
        for m in p.modules:
            if id(m) not in program:
                continue
            for n in astwalk.walk(m.tree):
                if isinstance(n, ast.Dict):
                    out |= {k.value for k in n.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)}
                elif isinstance(n, ast.Compare) and all(isinstance(o, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)) for o in n.ops):
                    out |= {e.value for e in [n.left, *n.comparators] if isinstance(e, ast.Constant) and isinstance(e.value, str)}
                elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.slice, ast.Constant) \
                        and isinstance(n.slice.value, str):
                    out.add(n.slice.value)
                elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("startswith", "endswith"):
                    out |= {a.value for a in n.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        return out
    return project.fact(("flax.part_names", module.path), compute)


def _fresh_frozen_parts(project: Project, module: Module, root: ast.ClassDef) -> list[str]:
    """The named sub-modules of an all-frozen root (``_frozen_bn_roots``) that hold a BatchNorm and
    that its program never addresses by name, when it does address another of them: the program
    loads or freezes those parts (the pretrained backbone) and leaves these freshly initialised, so
    their frozen BN keeps the initial 0/1 statistics. Empty when nothing is addressed by name (the
    whole model restored from a checkpoint) or every BN-holding part is."""
    subs = _submodules(module, project, root)
    if not subs:
        return []
    names = _part_names(project, module)
    if not any(name in names for name, _ in subs):
        return []
    return sorted({name for name, call in subs if name not in names and _holds_bn(module, project, call)})


def _flag_given_at_every_call(module: Module, cls: ast.ClassDef, bn: ast.Call) -> bool:
    """A BN constructed without its flag (``nn.BatchNorm(momentum=0.9)``) takes it where it is
    called: ``nn.BatchNorm(...)(x, use_running_average=...)`` or ``self.bn = nn.BatchNorm(...)`` then
    ``self.bn(x, use_running_average=...)``. True when every such call states it by keyword (the
    keyword itself is checked with the class's other flags); False when a call may pass it otherwise."""
    def states_it(call: ast.Call) -> bool:
        return kf.kwarg(call, "use_running_average") is not None and len(call.args) <= 1
    parent = module.parent(bn)
    if isinstance(parent, ast.Call) and parent.func is bn:
        return states_it(parent)
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Attribute)
            and isinstance(parent.targets[0].value, ast.Name) and parent.targets[0].value.id == "self"):
        return False
    attr = parent.targets[0].attr
    uses = [n for n in astwalk.walk(cls) if isinstance(n, ast.Attribute) and n.attr == attr
            and isinstance(n.value, ast.Name) and n.value.id == "self" and n is not parent.targets[0]]
    return bool(uses) and all(isinstance(module.parent(u), ast.Call) and module.parent(u).func is u
                              and states_it(module.parent(u)) for u in uses)


def _all_bn_frozen(project: Project, module: Module, root: ast.ClassDef) -> Optional[tuple[list[str], set[int]]]:
    """The names and ids of the classes ``root`` reaches when every BatchNorm among them has
    use_running_average always True (at least one BN), else None (see ``_frozen_bn_roots``)."""
    reach: dict[int, tuple[Module, ast.ClassDef]] = {id(root): (module, root)}
    todo = [(module, root)]
    while todo:
        m, cls = todo.pop()
        base = _project_base(project, m, cls)
        if base is None and any(isinstance(b, ast.Name) and (m.imports.resolve(b) or "") not in
                                ("flax.linen.Module", "flax.linen.module.Module") for b in cls.bases):
            return None  # a base class we cannot read
        nested = [base] if base else []
        for n in astwalk.walk(cls):
            if isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute)):
                fm, found = kf.resolve_def_in(project, m, n.func)
                if isinstance(found, ast.ClassDef):
                    nested.append((fm, found))
        for fm, found in nested:
            if id(found) not in reach:
                reach[id(found)] = (fm, found)
                todo.append((fm, found))
    sites = 0
    for m, cls in reach.values():
        fields = _class_fields(project, m, cls)
        called = _called_fields(cls, fields)
        if cls is root and called:
            return None  # the caller of the root fills them: unknown here
        calls = [n for n in astwalk.walk(cls) if isinstance(n, ast.Call)]
        for n in calls:
            if kf.has_kwargs_splat(n) or any(isinstance(a, ast.Starred) for a in n.args):
                return None
            for kw in n.keywords:
                if kw.arg == "use_running_average":
                    if not kf.always_true(m, project, kw.value):
                        return None
                    sites += 1
            qual = m.imports.resolve(n.func) or ""
            if qual in LINEN_BN and kf.kwarg(n, "use_running_average") is None:
                if n.args:
                    if not kf.always_true(m, project, n.args[0]):
                        return None
                    sites += 1
                elif not _flag_given_at_every_call(m, cls, n):
                    return None
            found = kf.resolve_def(project, m, n.func) if isinstance(n.func, (ast.Name, ast.Attribute)) else None
            if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)):
                text = ast.unparse(found)
                if "BatchNorm" in text or "use_running_average" in text:
                    return None  # a helper building BNs
            elif found is None and isinstance(n.func, (ast.Name, ast.Attribute)):
                last = n.func.id if isinstance(n.func, ast.Name) else n.func.attr
                if last[:1].isupper() and not qual.startswith(_FROZEN_ROOT_SAFE_PREFIXES):
                    return None  # a library model: its BNs are not visible
        for n in astwalk.walk(cls):
            # a project class used other than by calling it (nn.remat(Block), block_cls=Block)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and not (
                    isinstance(m.parent(n), ast.Call) and m.parent(n).func is n) \
                    and isinstance(kf.resolve_def(project, m, n), ast.ClassDef) \
                    and not any(n is b for b in cls.bases):
                return None
        if not called:
            continue
        # constructions of this class inside the reach fill its called fields
        for om, other in reach.values():
            for n in astwalk.walk(other):
                if not (isinstance(n, ast.Call) and isinstance(n.func, (ast.Name, ast.Attribute))
                        and kf.resolve_def(project, om, n.func) is cls):
                    continue
                for i, f in enumerate(fields):
                    given = kf.kwarg(n, f) or (n.args[i] if i < len(n.args) else None)
                    if f in called and (given is None or not _frozen_bn_value(om, project, given, reach)):
                        return None
    if not sites:
        return None
    return sorted(cls.name for _, cls in reach.values()), set(reach)


def _defaulted_bn_flag(project: Project, cls: ast.ClassDef) -> Optional[tuple[FuncNode, str]]:
    """(``__call__``, parameter) when the class's ``__call__`` has a parameter defaulting to False
    that its BN reads as ``use_running_average=not <parameter>``."""
    call_fn = next((b for b in cls.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and b.name == "__call__"), None)
    owner = next((m for m in project.modules if cls in m.classes), None)
    if call_fn is None or owner is None:
        return None
    for node, expr in RunningAverageHardcoded._flag_sites(owner):
        if owner.scope_of(node) is not call_fn:
            continue
        got = _flag_parameter(owner, node, expr)
        if got is None or not got[1]:
            continue
        _, default, found = kf._param_index(call_fn, got[0])
        if found and default is not None and kf._literal(default) is False:
            return call_fn, got[0]
    return None


LINEN_SEQUENTIAL = {"flax.linen.Sequential", "flax.linen.combinators.Sequential"}


def _sequential_of(module: Module, func: ast.expr) -> Optional[ast.Call]:
    """The ``nn.Sequential([...])`` construction a callee is: ``nn.Sequential([...])(x)`` itself,
    ``self.trunk`` assigned only that in its class (``setup``), or a local name bound only to it."""
    def is_seq(v) -> bool:
        return isinstance(v, ast.Call) and module.imports.resolve(v.func) in LINEN_SEQUENTIAL
    if is_seq(func):
        return func
    values: Optional[list] = None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
        cls = module.enclosing_class(func)
        if cls is None:
            return None
        values = [n.value for n in astwalk.walk(cls) if isinstance(n, (ast.Assign, ast.AnnAssign))
                  for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
                  if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
                  and t.attr == func.attr]
    elif isinstance(func, ast.Name):
        scope = module.scope_of(func)
        values = _bindings_in(scope, func.id) if scope is not None else None
    if not values or len(values) != 1 or not is_seq(values[0]):
        return None
    return values[0]


def _later_layer_classes(project: Project, module: Module, seq: ast.Call) -> list[tuple[Module, ast.ClassDef, str]]:
    """(module, class, where) for the project Module classes that ``nn.Sequential(layers)`` can call
    after its first layer: the elements after the first of a list literal, the element of a list
    comprehension (over more than one item) or of ``[Block()] * n``, through a local name bound to
    such a list. Empty when some layer returns a tuple or dict (Sequential unpacks it into the next
    layer's arguments: a deliberate way to thread a flag through)."""
    layers = seq.args[0] if seq.args else kf.kwarg(seq, "layers")
    later: list[tuple[ast.expr, str]] = []
    every: list[ast.expr] = []
    if isinstance(layers, ast.Name):
        scope = module.scope_of(seq)
        owner = scope if scope is not None else module.tree
        name, bound = layers.id, _bindings_in(owner, layers.id)
        layers = bound[0] if bound and len(bound) == 1 else None
        if isinstance(layers, ast.List) and not layers.elts:
            # layers = []; for ...: layers.append(Block(...)) (in a loop, or a second append)
            appends = [n for n in astwalk.walk(owner) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                       and isinstance(n.func.value, ast.Name) and n.func.value.id == name]
            if any(n.func.attr != "append" or len(n.args) != 1 for n in appends):
                return []
            every = [n.args[0] for n in appends]
            later = [(n.args[0], "a later layer") for i, n in enumerate(appends)
                     if i > 0 or any(isinstance(a, (ast.For, ast.While)) for a in module.ancestors_until(n, owner))]
            layers = None
    if isinstance(layers, (ast.List, ast.Tuple)):
        elts = [e for e in layers.elts if not isinstance(e, ast.Starred)]
        if len(elts) != len(layers.elts):
            return []
        every = elts
        later = [(e, f"layer {i + 1}") for i, e in enumerate(elts) if i > 0]
    elif isinstance(layers, (ast.ListComp, ast.GeneratorExp)) and len(layers.generators) >= 1:
        it = layers.generators[0].iter
        if isinstance(it, (ast.List, ast.Tuple)) and len(it.elts) < 2 or layers.generators[0].ifs:
            return []
        if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range" \
                and len(it.args) == 1 and isinstance(kf._literal(it.args[0]), int) and kf._literal(it.args[0]) < 2:
            return []
        every = [layers.elt]
        later = [(layers.elt, "every layer after the first")]
    elif isinstance(layers, ast.BinOp) and isinstance(layers.op, ast.Mult) and isinstance(layers.left, ast.List) \
            and len(layers.left.elts) == 1 and kf._literal(layers.right) != 1:
        every = list(layers.left.elts)
        later = [(layers.left.elts[0], "every layer after the first")]
    out: list[tuple[Module, ast.ClassDef, str]] = []
    for expr in every:
        if not isinstance(expr, ast.Call):
            continue
        m, cls = kf.resolve_def_in(project, module, expr.func)
        if isinstance(cls, ast.ClassDef) and _returns_packed(cls):
            return []
    for expr, where in later:
        if not isinstance(expr, ast.Call):
            continue
        m, cls = kf.resolve_def_in(project, module, expr.func)
        if m is not None and isinstance(cls, ast.ClassDef):
            out.append((m, cls, where))
    return out


def _returns_packed(cls: ast.ClassDef) -> bool:
    """Does the class's ``__call__`` return a tuple or dict literal (or anything but a plain value)?"""
    fn = next((b for b in cls.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) and b.name == "__call__"),
              None)
    if fn is None:
        return False
    return any(isinstance(r, ast.Return) and isinstance(r.value, (ast.Tuple, ast.Dict)) for r in astwalk.walk(fn))


def _forwarded_flag(module: Module, fn: FuncNode) -> Optional[str]:
    """A parameter of ``fn`` that it passes on as a training flag: ``use_running_average=not P``
    to a BN, or ``P`` by keyword to a sub-module call (``Block(...)(x, train=P)``)."""
    params = {a.arg for a in fn.args.args + fn.args.kwonlyargs} - {"self"}
    for n in astwalk.walk(fn):
        if not isinstance(n, ast.Call):
            continue
        for kw in n.keywords:
            value = kw.value
            if kw.arg == "use_running_average" and isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
                value = value.operand
            elif kw.arg is None or not isinstance(n.func, ast.Call):
                continue
            if isinstance(value, ast.Name) and value.id in params and (
                    kw.arg == "use_running_average" or kw.arg == value.id):
                return value.id
    return None


_SAVE_NAMES = frozenset({"to_bytes", "msgpack_serialize", "to_state_dict", "save_checkpoint", "save", "dump",
                         "dumps", "save_pytree", "write"})


def _saved_by(module: Module, d: ast.Dict) -> Optional[str]:
    """The name of the serializing call ``d`` is handed to, directly or through the name it is
    bound to in its scope (``payload = {...}; f.write(serialization.to_bytes(payload))``)."""
    parent = module.parent(d)
    if isinstance(parent, ast.Call) and (parent.func.attr if isinstance(parent.func, ast.Attribute)
                                         else getattr(parent.func, "id", None)) in _SAVE_NAMES:
        return ast.unparse(parent.func)
    if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name)):
        return None
    name, scope = parent.targets[0].id, module.scope_of(d)
    for r in module.references.get(name, ()):
        call = module.parent(r)
        if isinstance(r, ast.Name) and module.scope_of(r) is scope and isinstance(call, ast.Call) and r in call.args:
            callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
            if callee in _SAVE_NAMES:
                return ast.unparse(call.func)
    return None


def _init_variables(module: Module, project: Project, name: ast.Name, depth: int) -> bool:
    """Is ``name`` only ever the result of ``<model>.init(...)`` (bound in its scope, or a parameter
    that every call site in the project passes such a name)?"""
    scope = module.scope_of(name)
    owner = scope if scope is not None else module.tree
    values = [n.value for n in astwalk.walk(owner) if isinstance(n, (ast.Assign, ast.AnnAssign))
              and any(isinstance(t, ast.Name) and t.id == name.id
                      for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
    if values:
        return all(isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr == "init"
                   for v in values)
    if scope is None or depth > 3 or not kf._param_index(scope, name.id)[2]:
        return False
    sites = _calls_of(project, module, scope)
    if not sites:
        return False
    for site in sites:
        arg, explicit = kf.argument_for(site.node, scope, name.id)
        if not explicit or not isinstance(arg, ast.Name) or not _init_variables(site.module, project, arg, depth + 1):
            return False
    return True


def _is_init_call(expr: ast.AST) -> bool:
    """``model.init(...)``, ``jax.jit(model.init)(...)``."""
    if not isinstance(expr, ast.Call):
        return False
    f = expr.func
    if isinstance(f, ast.Call) and f.args:  # jax.jit(model.init)(rng, x)
        f = f.args[0]
    if isinstance(f, ast.Call) and f.args and (dotted(f.func) or "").endswith("partial"):
        f = f.args[0]  # jax.jit(functools.partial(model.init, train=False))(rng, x)
    return isinstance(f, ast.Attribute) and f.attr == "init"


def _bindings_in(owner: ast.AST, name: str) -> Optional[list[ast.expr]]:
    """The values ``name`` is bound to anywhere in ``owner`` (plain ``name = value``); None when it is
    also bound another way (unpacking, a loop target, ``with ... as``) or changed in place (``name[k] =
    ...``, ``name.update(...)``, ``name |= ...``)."""
    values: list = []
    stores = 0
    for n in astwalk.walk(owner):
        if isinstance(n, (ast.Assign, ast.AnnAssign)):
            for t in n.targets if isinstance(n, ast.Assign) else [n.target]:
                if isinstance(t, ast.Name) and t.id == name:
                    values.append(n.value)
                elif isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == name:
                    return None
        elif isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, (ast.Store, ast.Del)):
            stores += 1
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id == name and n.func.attr in ("update", "pop", "setdefault", "__setitem__"):
            return None
        elif isinstance(n, ast.AugAssign) and (getattr(n.target, "id", None) == name
                                               or getattr(getattr(n.target, "value", None), "id", None) == name):
            return None
    if stores != len(values):
        return None  # some store of the name is not a plain ``name = value``
    return [v for v in values if v is not None]


def _init_only(owner: ast.AST, name: str) -> bool:
    """Is every binding of ``name`` in ``owner`` the result of ``model.init(...)`` (at least one)?"""
    values = _bindings_in(owner, name)
    return bool(values) and all(_is_init_call(v) for v in values)


def _init_only_stats(owner: ast.AST, expr: ast.expr) -> Optional[str]:
    """The name of the ``model.init(...)`` result that ``expr`` takes its batch_stats from:
    ``variables["batch_stats"]`` or a name bound only to that; None otherwise."""
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and isinstance(expr.slice, ast.Constant) \
            and expr.slice.value == "batch_stats":
        return expr.value.id if _init_only(owner, expr.value.id) else None
    if isinstance(expr, ast.Name):
        values = _bindings_in(owner, expr.id)
        roots = {_init_only_stats(owner, v) if isinstance(v, ast.Subscript) else None for v in values or ()}
        if values and len(roots) == 1 and None not in roots:
            return roots.pop()
    return None


def _function_names(module: Module, fn: ast.AST) -> set[str]:
    """Names a function is called by: its own name, a name bound to it (``predict = lambda ...``), or
    to ``jax.jit``/``jax.pmap`` of it (``predict = jax.jit(lambda ...)``, ``fast = jax.jit(evaluate)``)."""
    names = set()
    if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        names.add(fn.name)
    node = fn
    parent = module.parent(node)
    if isinstance(parent, ast.Call) and node in parent.args:
        node, parent = parent, module.parent(parent)
    if isinstance(parent, ast.Assign) and parent.value is node:
        names |= {t.id for t in parent.targets if isinstance(t, ast.Name)}
    for name in list(names):
        for r in module.references.get(name, ()):
            call = module.parent(r)
            if isinstance(call, ast.Call) and r in call.args and (dotted(call.func) or "").endswith(("jit", "pmap")):
                assign = module.parent(call)
                if isinstance(assign, ast.Assign) and assign.value is call:
                    names |= {t.id for t in assign.targets if isinstance(t, ast.Name)}
    return names


def _closed_over_init_stats(module: Module, project: Project, d: ast.Dict, stats: ast.expr,
                            params: ast.Name, spread: bool = False) -> Optional[tuple[str, str, str]]:
    """``lambda params, x: model.apply({"params": params, "batch_stats": variables["batch_stats"]}, x,
    train=False)``: an evaluation apply in a function that takes the params as an argument but closes
    over the batch_stats of ``variables = model.init(...)``, which nothing rebinds or changes, in a
    project whose training applies produce new statistics (kept elsewhere: a train state). Returns
    (function name, init variables name, where they are bound)."""
    fn = next((a for a in module.ancestors(d) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))),
              None)
    if fn is None or not kf._param_index(fn, params.id)[2]:
        return None
    call = module.parent(d)
    if isinstance(call, ast.keyword) and call.arg == "variables":
        call = module.parent(call)
    if not (isinstance(call, ast.Call) and (call.args[:1] == [d] or kf.kwarg(call, "variables") is d)):
        return None
    callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    if callee not in ("apply", "apply_fn") or _mutable_has_batch_stats(module, project, call) \
            or kf.kwarg(call, "mutable") is not None:
        return None  # a training apply (its statistics are another question)
    root = stats.value if isinstance(stats, ast.Subscript) else stats
    if not isinstance(root, ast.Name) or kf._param_index(fn, root.id)[2] or _bindings_in(fn, root.id) != []:
        return None  # bound in the function itself: not a closure
    owner = next((a for a in module.ancestors(fn) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                  and (kf._param_index(a, root.id)[2] or _bindings_in(a, root.id) != [])), None)
    if owner is not None and kf._param_index(owner, root.id)[2]:
        return None
    owner = owner or module.tree
    init_name = (stats.id if isinstance(stats, ast.Name) and _init_only(owner, stats.id) else None) if spread \
        else _init_only_stats(owner, stats)
    if init_name is None:
        return None
    # the function is called with params that are not the init ones
    names = _function_names(module, fn)
    calls = [c for n in names for c in project.call_sites(n) if c.module is module]
    if not calls:
        return None
    trained = False
    for c in calls:
        arg, explicit = kf.argument_for(c.node, fn, params.id)
        if not explicit:
            continue
        if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name) and _init_only(owner, arg.value.id):
            continue
        trained = True
    if not trained:
        return None
    binding = next((n for n in astwalk.walk(owner) if isinstance(n, ast.Assign) and _is_init_call(n.value)
                    and any(isinstance(t, ast.Name) and t.id == init_name for t in n.targets)), None)
    where = module.line_ref(binding.lineno) if binding is not None else "module level"
    return (names and sorted(names)[0]) or "the function", init_name, where


def _new_stats_thrown_away(module: Module, call: ast.Call) -> bool:
    """``apply(...)[0]`` or ``out, _ = apply(...)``: the returned collections are surely dropped."""
    parent = module.parent(call)
    if isinstance(parent, ast.Subscript) and parent.value is call:
        return isinstance(parent.slice, ast.Constant) and parent.slice.value == 0
    if isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1 \
            and isinstance(parent.targets[0], ast.Tuple) and len(parent.targets[0].elts) == 2:
        second = parent.targets[0].elts[1]
        return isinstance(second, ast.Name) and second.id.startswith("_")
    return False


def _constant_variable_keys(module: Module, expr: ast.expr, at: ast.AST) -> Optional[set[str]]:
    """The collections a variables dict surely holds when it is a display with constant string keys
    and no spread (``{"params": p}``), ``dict(params=p)``, or a local name bound once to one and never
    changed in place (no item store, no method call, no augmented assignment); else None."""
    if isinstance(expr, ast.Dict):
        if not expr.keys or any(not (isinstance(k, ast.Constant) and isinstance(k.value, str)) for k in expr.keys):
            return None
        return {k.value for k in expr.keys}  # type: ignore[union-attr]
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict" \
            and not expr.args and expr.keywords and all(k.arg is not None for k in expr.keywords) \
            and module.imports.resolve(expr.func) in (None, "dict"):
        return {k.arg for k in expr.keywords}  # type: ignore[misc]
    if isinstance(expr, ast.Call) and len(expr.args) == 1 and not expr.keywords \
            and (module.imports.resolve(expr.func) or "").startswith("flax.") \
            and (module.imports.resolve(expr.func) or "").endswith(("freeze", "FrozenDict")):
        return _constant_variable_keys(module, expr.args[0], at)  # ``freeze({"params": p})``
    if not isinstance(expr, ast.Name):
        return None
    scope = module.scope_of(at)
    if scope is None:
        return None
    bound = kf._assignments(scope, expr.id)
    if len(bound) != 1 or bound[0] is None or isinstance(bound[0], ast.Name) or kf._param_index(scope, expr.id)[2]:
        return None
    for n in astwalk.walk(scope):
        if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name) and n.target.id == expr.id:
            return None
        if isinstance(n, ast.Name) and n.id == expr.id and isinstance(n.ctx, ast.Load):
            parent = module.parent(n)
            if isinstance(parent, (ast.Subscript, ast.Attribute)) and parent.value is n:
                return None  # ``variables["batch_stats"] = ...``, ``variables.update(...)``
    return _constant_variable_keys(module, bound[0], at)


def _params_overrides(module: Module) -> Iterator[tuple[ast.expr, ast.Name, ast.expr]]:
    """(expression, base dict name, params value) for variable dicts that take every collection from
    a name but the params: ``{**base, "params": p}``, ``dict(base, params=p)``, ``base | {"params":
    p}``, ``base.copy({"params": p})`` (FrozenDict), ``flax.core.copy(base, {"params": p})``."""
    for d in module.nodes_of_kind.get(ast.Dict, ()):
        keys = [k.value if isinstance(k, ast.Constant) else k for k in d.keys]
        if "params" not in keys or "batch_stats" in keys:
            continue
        params = d.values[keys.index("params")]
        spreads = [v for k, v in zip(d.keys, d.values) if k is None]
        if spreads:
            if len(spreads) == 1 and isinstance(spreads[0], ast.Name) and len(d.keys) == 2:
                yield d, spreads[0], params
            continue
        if len(d.keys) != 1:
            continue
        parent = module.parent(d)
        if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.BitOr) and parent.right is d \
                and isinstance(parent.left, ast.Name):
            yield parent, parent.left, params
        elif isinstance(parent, ast.Call) and parent.args == [d] and not parent.keywords \
                and isinstance(parent.func, ast.Attribute) and parent.func.attr == "copy" \
                and isinstance(parent.func.value, ast.Name):
            yield parent, parent.func.value, params
        elif isinstance(parent, ast.Call) and len(parent.args) == 2 and parent.args[1] is d \
                and isinstance(parent.args[0], ast.Name) and module.imports.resolve(parent.func) in (
                    "flax.core.copy", "flax.core.frozen_dict.copy"):
            yield parent, parent.args[0], params
    for c in module.calls:
        node = c.node
        if c.name == "dict" and isinstance(node.func, ast.Name) and len(node.args) == 1 \
                and isinstance(node.args[0], ast.Name) and [k.arg for k in node.keywords] == ["params"]:
            yield node, node.args[0], node.keywords[0].value


def _params_root(params: ast.expr) -> Optional[ast.Name]:
    """The name a params value is read from: ``p``, ``state.params``, ``state["params"]``."""
    if isinstance(params, ast.Name):
        return params
    if isinstance(params, ast.Attribute) and params.attr == "params" and isinstance(params.value, ast.Name):
        return params.value
    if isinstance(params, ast.Subscript) and isinstance(params.value, ast.Name) \
            and isinstance(params.slice, ast.Constant) and params.slice.value == "params":
        return params.value
    return None


def _evaluation_apply_of(module: Module, project: Project, expr: ast.expr) -> Optional[ast.Call]:
    """The ``apply`` / ``apply_fn`` call, with nothing mutable, that takes ``expr`` as its variables:
    directly, or through a name of the same function bound only to it."""
    def apply_taking(call, value) -> bool:
        if not isinstance(call, ast.Call) or not (call.args[:1] == [value] or kf.kwarg(call, "variables") is value):
            return False
        callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
        return callee in ("apply", "apply_fn") and kf.kwarg(call, "mutable") is None \
            and not _mutable_has_batch_stats(module, project, call)
    parent = module.parent(expr)
    if isinstance(parent, ast.keyword):
        parent = module.parent(parent)
    if apply_taking(parent, expr):
        return parent
    scope = module.scope_of(expr)
    if not (scope is not None and isinstance(parent, ast.Assign) and len(parent.targets) == 1
            and isinstance(parent.targets[0], ast.Name) and _bindings_in(scope, parent.targets[0].id) == [expr]):
        return None
    for r in module.references.get(parent.targets[0].id, ()):
        call = module.parent(r)
        if isinstance(call, ast.keyword):
            call = module.parent(call)
        if module.scope_of(r) is scope and apply_taking(call, r):
            return call
    return None


def _init_variables_argument(project: Project, module: Module, fn: FuncNode, name: str, params: str,
                             depth: int) -> Optional[str]:
    """Where the ``model.init(...)`` variables bound to parameter ``name`` of ``fn`` come from, when
    every plain call of ``fn`` (at least one) passes a name bound only to such a result (or a
    parameter of the caller that is so in turn), unchanged and read for its ``batch_stats`` there
    (the train state's statistics start from it), and some call passes for parameter ``params``
    something other than those variables' own params."""
    sites = _calls_of(project, module, fn)
    if not sites or depth > 2:
        return None
    where, trained = None, False
    for site in sites:
        arg, explicit = kf.argument_for(site.node, fn, name)
        if not explicit or not isinstance(arg, ast.Name):
            return None
        caller = site.module.scope_of(site.node)
        p_arg, p_explicit = kf.argument_for(site.node, fn, params)
        root = _params_root(p_arg) if p_explicit else None
        if root is not None and root.id != arg.id:
            trained = True
        if caller is not None and kf._param_index(caller, arg.id)[2]:
            if _bindings_in(caller, arg.id) != []:
                return None
            got = _init_variables_argument(project, site.module, caller, arg.id, params, depth + 1)
            if got is None:
                return None
            where = where or got
            continue
        owner = caller if caller is not None and _bindings_in(caller, arg.id) else site.module.tree
        if not _init_only(owner, arg.id) or not any(
                isinstance(n, ast.Subscript) and isinstance(n.value, ast.Name) and n.value.id == arg.id
                and isinstance(n.slice, ast.Constant) and n.slice.value == "batch_stats" for n in astwalk.walk(owner)):
            return None
        binding = next((n for n in astwalk.walk(owner) if isinstance(n, ast.Assign) and _is_init_call(n.value)
                        and any(isinstance(t, ast.Name) and t.id == arg.id for t in n.targets)), None)
        where = where or (f"`{arg.id}`, {site.module.line_ref(binding.lineno)}" if binding is not None else f"`{arg.id}`")
    return where if trained or depth > 0 else None


def _reaches_training(module: Module, project: Project, call: ast.Call, depth: int) -> bool:
    """Does ``call`` train or recompute BatchNorm statistics: a gradient / optimizer update
    (``_is_training_function``'s names), a mutable apply, a call named for recalibration, or a project
    function (called, or handed over as an argument: ``fit(state, train_step)``) that does so within
    three calls?"""
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if kf.kwarg(call, "mutable") is not None or name in GRAD_NAMES or name and _RECALIBRATION.search(name):
        return True
    if name in UPDATE_NAMES and not _dict_update(call, module.scope_of(call) or module.tree):
        return True
    if depth > 2:
        return False
    for callee_module, callee in _project_callees(module, project, call):
        if _is_training_function(callee) or any(
                isinstance(n, ast.Call) and _reaches_training(callee_module, project, n, depth + 1)
                for n in astwalk.walk(callee) if n is not callee):
            return True
    return False


def _flows_out(module: Module, fn: FuncNode, at: ast.AST) -> bool:
    """Does the value built by ``at`` (a ``replace(...)`` call) leave ``fn``: returned directly, or
    bound to a name that a ``return`` of ``fn`` mentions, or stored anywhere but a local name?"""
    parent = module.parent(at)
    if isinstance(parent, ast.Return):
        return True
    if not isinstance(at, ast.Call) or not isinstance(parent, ast.Assign):
        return not isinstance(at, ast.Call) or not isinstance(parent, (ast.Call, ast.keyword, ast.Expr))
    names = {t.id for t in parent.targets if isinstance(t, ast.Name)}
    if len(names) != len(parent.targets):
        return True  # ``self.state = ...``: read wherever the object goes
    return any(isinstance(r, ast.Return) and r.value is not None and module.scope_of(r) is fn
               and any(isinstance(n, ast.Name) and n.id in names for n in astwalk.walk(r.value)) for r in astwalk.walk(fn))


def site_level_calls(module: Module, fn: FuncNode) -> list[ast.Call]:
    """Module-level calls placed after a module-level call of ``fn`` (a script's top level)."""
    sites = [n for n in astwalk.walk(module.tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
             and n.func.id == fn.name and module.scope_of(n) is None]
    if not sites:
        return []
    first = min(n.lineno for n in sites)
    return [n for n in astwalk.walk(module.tree) if isinstance(n, ast.Call) and module.scope_of(n) is None
            and n.lineno > first]


# Calls that read a checkpoint back (flax.serialization, flax.training.checkpoints, orbax).
_RESTORE_NAMES = frozenset({"msgpack_restore", "from_bytes", "restore_checkpoint", "restore", "load_pytree"})


def _restore_call(expr: ast.AST) -> bool:
    if isinstance(expr, ast.Await):
        expr = expr.value
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, (ast.Name, ast.Attribute)):
        return False
    return (expr.func.id if isinstance(expr.func, ast.Name) else expr.func.attr) in _RESTORE_NAMES


def _restored_params_source(module: Module, fn: FuncNode, expr: ast.expr, depth: int = 0) -> Optional[str]:
    """The restored checkpoint whose ``params`` entry ``expr`` takes: ``raw["params"]`` /
    ``raw.params`` (also inside ``from_state_dict(target.params, raw["params"])``) where ``raw`` is
    bound in ``fn`` only to a checkpoint read (``msgpack_restore``, ``restore_checkpoint``, an orbax
    ``restore``), or ``restore_checkpoint(...)["params"]``; followed through names bound only to such
    an expression. None otherwise."""
    if depth > 2:
        return None
    if isinstance(expr, ast.Name):
        bound = _bindings_in(fn, expr.id)
        if not bound:
            return None
        got = {_restored_params_source(module, fn, v, depth + 1) for v in bound}
        return got.pop() if len(got) == 1 and None not in got else None
    for n in astwalk.walk(expr):
        if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "params":
            base = n.value
        elif isinstance(n, ast.Attribute) and n.attr == "params":
            base = n.value
        else:
            continue
        if _restore_call(base):
            return ast.unparse(base)
        if isinstance(base, ast.Name):
            bound = _bindings_in(fn, base.id)
            if bound and all(_restore_call(v) for v in bound):
                return base.id
    return None


def _init_argument_stats(module: Module, project: Project, fn: FuncNode, expr: ast.expr) -> Optional[str]:
    """The ``model.init(...)`` variables ``expr`` takes its batch_stats from: ``_init_only_stats`` in
    ``fn``, or ``variables["batch_stats"]`` of a parameter ``variables`` that ``fn`` never rebinds and
    every call of ``fn`` passes as a ``model.init(...)`` result (the call itself, or a name bound only
    to one)."""
    local = _init_only_stats(fn, expr)
    if local is not None:
        return local
    if not (isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name) and isinstance(expr.slice, ast.Constant)
            and expr.slice.value == "batch_stats"):
        return None
    name = expr.value.id
    if not kf._param_index(fn, name)[2] or _bindings_in(fn, name) != [] or module.parent(fn) is not module.tree:
        return None
    sites = _calls_of(project, module, fn)
    if not sites:
        return None
    for site in sites:
        arg, explicit = kf.argument_for(site.node, fn, name)
        if not explicit or not (_is_init_call(arg) or isinstance(arg, ast.Name)
                                and _init_variables(site.module, project, arg, 1)):
            return None
    return name


def _holds_batch_stats(module: Module, project: Project, scope: Optional[FuncNode], expr: ast.expr,
                       depth: int = 0) -> bool:
    """Is ``expr`` surely a variables/state tree with a ``batch_stats`` entry: a dict display with that
    key (also wrapped: ``to_state_dict({...})``, ``freeze({...})``), a train state built with
    ``batch_stats=``, a project function's result that always is one, or a name bound only to such
    values or read elsewhere in its scope as ``name["batch_stats"]`` / ``name.batch_stats``?"""
    if depth > 3:
        return False
    if isinstance(expr, ast.Dict):
        return any(isinstance(k, ast.Constant) and k.value == "batch_stats" for k in expr.keys)
    if isinstance(expr, ast.Name):
        owner = scope if scope is not None else module.tree
        for n in astwalk.walk(owner):
            if (isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "batch_stats"
                    or isinstance(n, ast.Attribute) and n.attr == "batch_stats") \
                    and isinstance(n.value, ast.Name) and n.value.id == expr.id:
                return True
        bound = _bindings_in(owner, expr.id)
        if bound == [] and scope is not None and kf._param_index(scope, expr.id)[2] \
                and module.parent(scope) is module.tree:  # a parameter: what every caller passes
            sites = _calls_of(project, module, scope)
            return bool(sites) and all(_grafted_argument_holds_stats(project, scope, site, expr.id, depth + 1)
                                       for site in sites)
        return bool(bound) and all(_holds_batch_stats(module, project, scope, v, depth + 1) for v in bound)
    if not isinstance(expr, ast.Call):
        return False
    if kf.kwarg(expr, "batch_stats") is not None and _callee(expr) in ("create", "replace"):
        return True
    if len(expr.args) == 1 and not expr.keywords and isinstance(expr.args[0], ast.Dict) \
            and _callee(expr) in ("to_state_dict", "freeze", "unfreeze", "FrozenDict", "device_get", "copy", "deepcopy"):
        return _holds_batch_stats(module, project, scope, expr.args[0], depth + 1)
    if not isinstance(expr.func, ast.Name):
        return False
    callee_module, callee = kf.resolve_def_in(project, module, expr.func)
    if callee_module is None or not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    returns = [r.value for r in kf._returns_of(callee)]
    return bool(returns) and all(r is not None and _holds_batch_stats(callee_module, project, callee, r, depth + 1)
                                 for r in returns)


def _grafted_params_source(module: Module, project: Project, fn: FuncNode, params: ast.expr,
                           init_root: str) -> Optional[str]:
    """The pretrained tree whose ``params`` (or a sub-tree of them) ``params`` takes, when that tree
    surely carries ``batch_stats`` too: ``ckpt["params"]`` read directly or written
    into a copy of the init params (``p = unfreeze(variables["params"]); p["backbone"] =
    ckpt["params"]["backbone"]``), where ``ckpt`` is a parameter of ``fn`` that every caller passes
    such a tree for (``_holds_batch_stats``) and ``fn`` never reads its ``batch_stats``. None otherwise."""
    values: list[ast.expr] = [params]
    if isinstance(params, ast.Name):
        values = []
        for n in astwalk.walk(fn):
            if isinstance(n, ast.Assign) and any(
                    (isinstance(t, ast.Name) and t.id == params.id) or _subscript_root(t) == params.id
                    for t in n.targets):
                values.append(n.value)
    for v in values:
        for n in astwalk.walk(v):
            if isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "params":
                base = n.value  # a tree of collections (``state.params`` is a live train state: other rules)
            else:
                continue
            if not isinstance(base, ast.Name) or base.id == init_root or not kf._param_index(fn, base.id)[2] \
                    or _bindings_in(fn, base.id) != []:
                continue
            if any((isinstance(r, ast.Subscript) and isinstance(r.slice, ast.Constant) and r.slice.value == "batch_stats"
                    or isinstance(r, ast.Attribute) and r.attr == "batch_stats")
                   and isinstance(r.value, ast.Name) and r.value.id == base.id for r in astwalk.walk(fn)):
                continue  # the function reads the tree's statistics too
            sites = _calls_of(project, module, fn) if module.parent(fn) is module.tree else []
            if sites and all(_grafted_argument_holds_stats(project, fn, site, base.id) for site in sites):
                return base.id
    return None


def _grafted_argument_holds_stats(project: Project, fn: FuncNode, site, name: str, depth: int = 0) -> bool:
    arg, explicit = kf.argument_for(site.node, fn, name)
    return explicit and arg is not None \
        and _holds_batch_stats(site.module, project, site.module.scope_of(site.node), arg, depth)


def _project_callees(module: Module, project: Project, call: ast.Call) -> Iterator[tuple[Module, FuncNode]]:
    """The project functions ``call`` runs: its callee, and functions it hands over by name as an
    argument (``fit(state, train_step)``)."""
    for ref in [call.func] + [a for a in [*call.args, *(k.value for k in call.keywords)] if isinstance(a, ast.Name)]:
        if not isinstance(ref, (ast.Name, ast.Attribute)):
            continue
        callee_module, callee = kf.resolve_def_in(project, module, ref)
        if callee_module is not None and isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield callee_module, callee


def _reaches_stats_update(module: Module, project: Project, call: ast.Call, depth: int = 0) -> bool:
    """Can ``call`` change BatchNorm statistics: a mutable apply, a call named for recalibration,
    a train state built or rebuilt with ``batch_stats=`` (its step may write them), or a project
    function (called, or handed over as an argument) that does so within three calls? Gradients and
    optimizer updates alone do not: they move the params only."""
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
    if kf.kwarg(call, "mutable") is not None or (name and _RECALIBRATION.search(name)) \
            or (name in ("create", "replace", "apply_gradients") and kf.kwarg(call, "batch_stats") is not None):
        return True
    if depth > 2:
        return False
    for callee_module, callee in _project_callees(module, project, call):
        if any(isinstance(n, ast.Call) and _reaches_stats_update(callee_module, project, n, depth + 1)
               for n in astwalk.walk(callee) if n is not callee):
            return True
    return False


def _init_state_name(module: Module, project: Project, fn: FuncNode, name: str, depth: int) -> bool:
    """Is ``name`` bound in ``fn`` only to a train state whose batch_stats are those of
    ``model.init`` (``TrainState.create(..., batch_stats=variables["batch_stats"])``, or a project
    function every return of which is such a state)?"""
    bound = _bindings_in(fn, name)
    return bool(bound) and all(_init_state_value(module, project, fn, v, depth) for v in bound)


def _init_state_value(module: Module, project: Project, fn: FuncNode, expr: ast.expr, depth: int) -> bool:
    if not isinstance(expr, ast.Call) or depth > 2:
        return False
    if isinstance(expr.func, ast.Attribute) and expr.func.attr == "create":
        stats = kf.kwarg(expr, "batch_stats")
        return stats is not None and _init_only_stats(fn, stats) is not None
    if not isinstance(expr.func, ast.Name):
        return False
    callee_module, callee = kf.resolve_def_in(project, module, expr.func)
    if callee_module is None or not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    returns = [r.value for r in astwalk.walk(callee) if isinstance(r, ast.Return)
               and callee_module.scope_of(r) is callee]
    if not returns or any(r is None for r in returns):
        return False
    return all(_init_state_value(callee_module, project, callee, r, depth + 1) or
               isinstance(r, ast.Name) and _init_state_name(callee_module, project, callee, r.id, depth + 1)
               for r in returns)


def _calls_of(project: Project, module: Module, fn: FuncNode) -> list:
    """Plain calls ``fn(...)`` of a module-level function in its own program (``same_program``),
    leaving out modules that define a function of that name themselves."""
    program = same_program(module, project)
    return [c for c in project.call_sites(fn.name) if isinstance(c.node.func, ast.Name) and id(c.module) in program
            and (c.module is module or not any(f.name == fn.name and f.cls is None for f in c.module.functions))]


def _rebound_from_itself(project: Project, fn: FuncNode, param: str) -> bool:
    """Does every call of ``fn`` in the project pass a name for ``param`` and store the result back
    into that same name (``ema = update_ema(ema, state)``)? At least one call."""
    owner = next((m for m in project.modules if any(f.node is fn for f in m.functions)), None)
    sites = _calls_of(project, owner, fn) if owner is not None else []
    if not sites:
        return False
    for site in sites:
        arg, explicit = kf.argument_for(site.node, fn, param)
        parent = site.module.parent(site.node)
        if not (explicit and isinstance(arg, ast.Name) and isinstance(parent, ast.Assign) and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name) and parent.targets[0].id == arg.id):
            return False
        # nothing else refreshes it (a BN recalibration, ``ema["batch_stats"] = ...``): one binding
        # before the updates (the initial copy) and the updates themselves
        owner = site.module.scope_of(site.node) or site.module.tree
        others = [n for n in astwalk.walk(owner) if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)) and n is not parent
                  and any(isinstance(t, (ast.Name, ast.Subscript)) and (getattr(t, "id", None) == arg.id or (
                      isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id == arg.id))
                      for t in (n.targets if isinstance(n, ast.Assign) else [n.target]))]
        if len(others) > 1 or any(o.lineno > parent.lineno or not isinstance(o, ast.Assign) for o in others):
            return False
    return True


def _other_models_forward(module: Module, call: ast.Call, step: FuncNode) -> bool:
    """Is ``call`` an apply of another model than the one ``step`` trains: the step differentiates a
    nested loss function with respect to the arguments it gives it (``value_and_grad(loss_fn)
    (d_state.params)``), and ``call`` sits outside that loss function with variables read from
    other objects (``g_state.params``: the generator producing fakes in the discriminator's step)?"""
    differentiated = _differentiated_names(module)
    losses = [f for f in astwalk.walk(step) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              and f is not step and f.name in differentiated]
    if not losses or not call.args or any(call in set(astwalk.walk(f)) for f in losses):
        return False
    loss_names = {f.name for f in losses}
    grad_fns = set(loss_names)
    for n in astwalk.walk(step):  # grad_fn = jax.value_and_grad(loss_fn, has_aux=True)
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and _callee(n.value) in GRAD_NAMES \
                and n.value.args and isinstance(n.value.args[0], ast.Name) and n.value.args[0].id in loss_names:
            grad_fns |= {t.id for t in n.targets if isinstance(t, ast.Name)}
    trained: set[str] = set()
    for n in astwalk.walk(step):
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        direct = isinstance(f, ast.Call) and _callee(f) in GRAD_NAMES and f.args \
            and isinstance(f.args[0], ast.Name) and f.args[0].id in loss_names
        if direct or (isinstance(f, ast.Name) and f.id in grad_fns - loss_names):
            trained |= _root_names(n.args)
    applied = _root_names(call.args[:1])
    return bool(trained) and bool(applied) and not applied & trained


def _callee(call: ast.Call) -> Optional[str]:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _root_names(exprs: list) -> set[str]:
    """The names the values in ``exprs`` are read from (``d_state`` for ``d_state.params``)."""
    return {n.id for e in exprs for n in astwalk.walk(e) if isinstance(n, ast.Name)}


def _outermost_function(module: Module, node: ast.AST) -> Optional[FuncNode]:
    out = None
    for a in module.ancestors(node):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out = a
    return out


GRAD_NAMES = {"value_and_grad", "grad"}
UPDATE_NAMES = {"apply_gradients", "apply_updates", "update"}


def _is_training_function(fn: ast.AST) -> bool:
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Call):
            f = n.func
            nm = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
            if nm in GRAD_NAMES or (nm in UPDATE_NAMES and not _dict_update(n, fn)):
                return True
    return False


def _dict_update(call: ast.Call, fn: ast.AST) -> bool:
    """``hparams.update({...})`` / ``hparams.update(k=v)`` / ``d.update(other)`` on a dict made in
    ``fn``: a dictionary changed, not an optimizer update (``tx.update(grads, opt_state)``)."""
    if not (isinstance(call.func, ast.Attribute) and call.func.attr == "update"):
        return False
    if not call.args:
        return bool(call.keywords)
    if len(call.args) == 1 and (isinstance(call.args[0], (ast.Dict, ast.DictComp))
                                or (isinstance(call.args[0], ast.Call) and isinstance(call.args[0].func, ast.Name)
                                    and call.args[0].func.id == "dict")):
        return True
    receiver = call.func.value
    return isinstance(receiver, ast.Name) and any(
        isinstance(a, ast.Assign) and isinstance(a.value, (ast.Dict, ast.DictComp))
        and any(isinstance(t, ast.Name) and t.id == receiver.id for t in a.targets) for a in astwalk.walk(fn))


def _differentiated_names(module: Module) -> set[str]:
    """Names of functions handed to ``jax.grad``/``value_and_grad`` in this module."""
    out: set[str] = set()
    for c in module.calls:
        if c.name in GRAD_NAMES and c.node.args and isinstance(c.node.args[0], ast.Name):
            out.add(c.node.args[0].id)
    return out


def _loads(fn: ast.AST, name: str, after: Optional[ast.AST] = None) -> list[ast.Name]:
    line = getattr(after, "end_lineno", 0) or 0
    return [n for n in astwalk.walk(fn) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
            and n.lineno > line - (0 if after is None else 0)]


def _name_used(module: Module, fn: ast.AST, name: str, after: Optional[ast.AST] = None,
               project: Optional[Project] = None) -> bool:
    """Is ``name`` read in ``fn`` (after ``after``)? A read that only unpacks it into unused names,
    or only writes it where nothing keeps it (``_lost_write``), does not count."""
    if name == "_":
        return False
    for load in _loads(fn, name, after):
        if _in_discarded_replace(module, load) \
                or (project is not None and (_lost_write(module, project, fn, load) is not None
                                             or _dead_store(module, fn, load) is not None)):
            continue
        parent = module.parent(load)
        if isinstance(parent, ast.Assign) and parent.value is load and len(parent.targets) == 1 \
                and isinstance(parent.targets[0], (ast.Tuple, ast.List)):
            names = [e.id for e in parent.targets[0].elts if isinstance(e, ast.Name)]
            if names and not any(_name_used(module, fn, n, parent, project) for n in names):
                continue
        return True
    return False


def _in_discarded_replace(module: Module, node: ast.AST) -> bool:
    """Is ``node`` an argument of ``state.replace(...)`` written as a statement of its own? A
    ``TrainState`` (any flax struct) is immutable: ``replace`` returns a new one, here thrown away."""
    cur = module.parent(node)
    while cur is not None and not isinstance(cur, ast.stmt):
        cur = module.parent(cur)
    return isinstance(cur, ast.Expr) and isinstance(cur.value, ast.Call) \
        and isinstance(cur.value.func, ast.Attribute) and cur.value.func.attr == "replace"


# Calls that build a new value holding their arguments, with no side effect: a value written through
# them into a name nothing reads is gone (``stepped = state.replace(batch_stats=...)``, then the step
# returns ``state.apply_gradients(...)``: apply_gradients copies every other field of the state it is
# called on, so the new statistics are dropped).
_PURE_BUILDERS = frozenset({"replace", "apply_gradients", "freeze", "unfreeze", "FrozenDict", "dict", "copy"})


def _dead_store(module: Module, fn: ast.AST, load: ast.Name, depth: int = 0) -> Optional[str]:
    """The local name that ``load`` is written into, only through containers and pure builders
    (subscripts, dict/tuple/list displays, ``x.replace(...)``, ``apply_gradients(...)``, ``freeze``),
    when nothing in ``fn`` reads that name afterwards (nor in a nested function, a loop around the
    store, or through ``global``/``nonlocal``): the value is thrown away. None otherwise."""
    node, cur = load, module.parent(load)
    while cur is not None and not isinstance(cur, ast.stmt):
        if isinstance(cur, ast.Subscript):
            ok = cur.value is node
        elif isinstance(cur, (ast.Dict, ast.Tuple, ast.List, ast.Starred, ast.keyword)):
            ok = True
        elif isinstance(cur, ast.Call):
            ok = cur.func is not node and _callee(cur) in _PURE_BUILDERS
        else:
            ok = False
        if not ok:
            return None
        node, cur = cur, module.parent(cur)
    if not (isinstance(cur, ast.Assign) and cur.value is node and len(cur.targets) == 1
            and isinstance(cur.targets[0], ast.Name)):
        return None
    name = cur.targets[0].id
    if name == "_":
        return name
    scope = module.scope_of(cur)
    owner = scope if scope is not None else module.tree
    if scope is None or any(isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names for n in astwalk.walk(owner)):
        return None
    loads = [n for n in astwalk.walk(owner) if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)]
    if not loads:
        return name
    in_loop = any(isinstance(a, (ast.For, ast.While, ast.AsyncFor)) for a in module.ancestors_until(cur, owner))
    if in_loop or depth >= 2 or any(module.scope_of(n) is not scope or n.lineno <= cur.lineno for n in loads):
        return None
    # read only to be written, in turn, into names nothing reads
    return name if all(_dead_store(module, fn, n, depth + 1) is not None for n in loads) else None


def _as_batch_stats(module: Module, load: ast.Name) -> bool:
    """Is ``load`` written as batch statistics in its statement: inside a ``batch_stats=`` keyword or
    the value of a ``"batch_stats"`` entry of a dict display?"""
    child: ast.AST = load
    for a in module.ancestors(load):
        if isinstance(a, ast.stmt):
            return False
        if isinstance(a, ast.keyword) and a.arg == "batch_stats":
            return True
        if isinstance(a, ast.Dict) and any(isinstance(k, ast.Constant) and k.value == "batch_stats" and v is child
                                           for k, v in zip(a.keys, a.values)):
            return True
        child = a
    return False


def _lost_write(module: Module, project: Project, fn: ast.AST, load: ast.Name) -> Optional[str]:
    """Why ``load`` is read only to be written where nothing keeps it (None when it is kept): into a
    dict argument of the jitted step ``fn`` changed in place and never returned
    (``model_state.update(new_state)``), or as ``batch_stats=`` of an ``apply_gradients`` whose
    override in the program drops that keyword (``super().apply_gradients(grads=grads)`` without
    the ``**kwargs``)."""
    receiver = _mutated_dict(module, load)
    if receiver is not None and isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) \
            and _traced_argument_lost(module, fn, receiver):
        return (f"they are written in place into `{receiver}`, an argument of `{fn.name}` that it never returns: "
                "under jax.jit / jax.pmap that dict is a traced copy, so the caller's statistics never change; "
                f"return the new statistics from `{fn.name}` and rebind them in the loop")
    nested = _collections_merged_into_batch_stats(module, project, fn, load)
    if nested:
        return nested
    dropping = _in_dropping_apply_gradients(module, project, load)
    if dropping:
        classes = "`, `".join(dropping)
        return (f"they are passed as `batch_stats=` to `apply_gradients`, but the override in `{classes}` "
                "never keeps that keyword (it reaches neither super().apply_gradients() nor replace()): BatchNorm "
                "statistics never update; forward it (`super().apply_gradients(grads=grads, **kwargs)`)")
    return None


def _collections_merged_into_batch_stats(module: Module, project: Project, fn: ast.AST,
                                         load: ast.Name) -> Optional[str]:
    """Why ``load`` is lost when it is the whole dict of mutated collections (``updates`` of
    ``out, updates = apply(..., mutable=["batch_stats"])``, not ``updates["batch_stats"]``) spread
    into a value written as the inner batch_stats dict: ``state.replace(batch_stats={**state.batch_stats,
    **updates})``, ``{"params": p, "batch_stats": {**old, **updates}}`` (the merge adds a
    "batch_stats" entry next to the layers' own, which keep their old statistics), or written there
    as it is (``state.replace(batch_stats=updates)``: the statistics sit one level too deep)."""
    d = module.parent(load)
    if not (isinstance(d, ast.Dict) and any(k is None and v is load for k, v in zip(d.keys, d.values))):
        d = load  # written as it is: ``state.replace(batch_stats=updates)``
    dest = module.parent(d)
    if isinstance(dest, ast.keyword):
        if dest.arg != "batch_stats" or not _holds_inner_batch_stats(module, project):
            return None
        written = f"`batch_stats={ast.unparse(d)}`"
    elif isinstance(dest, ast.Dict):
        if not any(isinstance(k, ast.Constant) and k.value == "batch_stats" and v is d
                   for k, v in zip(dest.keys, dest.values)):
            return None
        written = f"`\"batch_stats\": {ast.unparse(d)}`"
    elif isinstance(dest, ast.Assign) and dest.value is d and len(dest.targets) == 1 \
            and isinstance(dest.targets[0], ast.Attribute) and dest.targets[0].attr == "batch_stats":
        if not _holds_inner_batch_stats(module, project):
            return None
        written = f"`{ast.unparse(dest.targets[0])} = {ast.unparse(d)}`"
    else:
        return None
    shape = _StatsShape(module, project)
    if shape.kinds(load, module, module.scope_of(load)) != frozenset([COLLECTIONS]):
        return None
    if d is load:
        return (f"`{load.id}` is the whole dict of mutated collections ({{\"batch_stats\": {{...}}}}) returned by "
                f"apply, and {written} stores it where the inner batch_stats dict belongs: the next apply finds "
                "the BatchNorm statistics one level too deep (under a nested \"batch_stats\") and starts from "
                f"fresh 0/1 statistics; store `{load.id}[\"batch_stats\"]`")
    return (f"`{load.id}` is the whole dict of mutated collections ({{\"batch_stats\": {{...}}}}) returned by "
            f"apply, and {written} spreads it into the inner batch_stats dict: the merge adds a nested "
            "\"batch_stats\" entry and every BatchNorm layer keeps its old statistics; merge "
            f"`{load.id}[\"batch_stats\"]`")


def _holds_inner_batch_stats(module: Module, project: Project) -> bool:
    """Does the program read the ``batch_stats`` attribute (a TrainState field) as the inner dict:
    as the value of a "batch_stats" key of a variables dict (``{"params": ..., "batch_stats":
    state.batch_stats}``), and never spread as a dict of collections (``{"params": p, **state.batch_stats}``;
    a merge ``{**state.batch_stats, **new}`` is no such use)?"""
    program = same_program(module, project)
    inner = False
    for m in project.modules:
        if id(m) not in program or not m.mentions("batch_stats"):
            continue
        for d in m.nodes_of_kind.get(ast.Dict, ()):
            for k, v in zip(d.keys, d.values):
                if isinstance(v, ast.Attribute) and v.attr == "batch_stats":
                    if k is None and any(key is not None for key in d.keys):
                        return False  # ``{"params": p, **state.batch_stats}``: it holds collections
                    if isinstance(k, ast.Constant) and k.value == "batch_stats":
                        inner = True
    return inner


def _mutated_dict(module: Module, load: ast.Name) -> Optional[str]:
    """The name of the dict that the statement holding ``load`` changes in place with it:
    ``d.update(<load>)``, ``d[k] = <load>``, ``d |= <load>``."""
    stmt = next((a for a in module.ancestors(load) if isinstance(a, ast.stmt)), None)
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        f = stmt.value.func
        if isinstance(f, ast.Attribute) and f.attr == "update" and isinstance(f.value, ast.Name) \
                and f.value is not load:
            return f.value.id
        return None
    if isinstance(stmt, ast.Assign) and load in set(astwalk.walk(stmt.value)):
        roots = {_subscript_root(t) for t in stmt.targets}
        return roots.pop() if len(roots) == 1 and None not in roots else None
    if isinstance(stmt, ast.AugAssign) and isinstance(stmt.op, ast.BitOr) and load in set(astwalk.walk(stmt.value)):
        return stmt.target.id if isinstance(stmt.target, ast.Name) else _subscript_root(stmt.target)
    return None


def _subscript_root(target: ast.expr) -> Optional[str]:
    """``d`` for ``d["batch_stats"]`` / ``d[a][b]``; None for anything else."""
    if not isinstance(target, ast.Subscript):
        return None
    while isinstance(target, ast.Subscript):
        target = target.value
    return target.id if isinstance(target, ast.Name) else None


def _traced_argument_lost(module: Module, fn: FuncNode, name: str) -> bool:
    """Is ``name`` a parameter of ``fn``, a function run under ``jax.jit``/``jax.pmap``, that ``fn``
    never rebinds and never returns? The traced function gets a copy of a dict argument: changes made
    to it in place never reach the caller's dict."""
    if name in ("self", "cls") or not kf._param_index(fn, name)[2] or not _traced(module, fn):
        return False
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store) \
                and not isinstance(module.parent(n), ast.AugAssign):
            return False  # rebound: a local dict (maybe returned under another name)
        if isinstance(n, (ast.Return, ast.Yield)) and n.value is not None and module.scope_of(n) is fn \
                and _mentions_any(n.value, {name}):
            return False
    return True


_TRACING = frozenset({"jax.jit", "jax.pmap"})


def _traced(module: Module, fn: FuncNode) -> bool:
    """Is ``fn`` compiled by ``jax.jit``/``jax.pmap``: decorated (also through ``functools.partial``)
    or wrapped in this module (``step = jax.jit(train_step)``, ``jax.pmap(self.train_step)``)?"""
    for d in fn.decorator_list:
        q = module.imports.resolve(d.func if isinstance(d, ast.Call) else d) or ""
        if q in _TRACING or (q == "functools.partial" and isinstance(d, ast.Call) and d.args
                             and module.imports.resolve(d.args[0]) in _TRACING):
            return True
    for c in module.calls:
        if c.qualname in _TRACING and c.node.args:
            a = c.node.args[0]
            if isinstance(a, ast.Call) and a.args and module.imports.resolve(a.func) == "functools.partial":
                a = a.args[0]  # jax.pmap(functools.partial(train_step, learning_rate_fn=...))
            if (isinstance(a, ast.Name) and a.id == fn.name) or (
                    isinstance(a, ast.Attribute) and a.attr == fn.name and isinstance(a.value, ast.Name)
                    and a.value.id == "self"):
                return True
    return False


def _in_dropping_apply_gradients(module: Module, project: Project, load: ast.Name) -> list[str]:
    """When ``load`` is inside the ``batch_stats=`` keyword of ``state.apply_gradients(...)`` and every
    train state the program creates overrides ``apply_gradients`` without keeping that keyword: the
    names of those classes; else empty."""
    for a in module.ancestors(load):
        if isinstance(a, ast.stmt):
            return []
        if isinstance(a, ast.keyword):
            call = module.parent(a)
            if a.arg == "batch_stats" and isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) \
                    and call.func.attr == "apply_gradients":
                return _program_states_drop_batch_stats(module, project)
            return []
    return []


def _program_states_drop_batch_stats(module: Module, project: Project) -> list[str]:
    """The train-state classes the program of ``module`` creates (``State.create(...)`` or
    ``State(...)``) when every one is a project class whose ``apply_gradients`` drops a
    ``batch_stats=`` keyword; else empty. A stock flax ``TrainState.create`` anywhere in the program
    keeps them: silent."""
    memo: dict = project.fact("flax.states_drop_batch_stats", lambda p: {})
    if id(module) not in memo:
        memo[id(module)] = _states_drop_batch_stats(module, project)
    return memo[id(module)]


def _states_drop_batch_stats(module: Module, project: Project) -> list[str]:
    program = same_program(module, project)
    created: dict[int, tuple[Module, ast.ClassDef]] = {}
    for m in project.modules:
        if id(m) not in program:
            continue
        for c in m.calls:
            f = c.node.func
            if c.name == "create" and isinstance(f, ast.Attribute):
                found = _class_in_scope(project, m, f.value.id) if isinstance(f.value, ast.Name) else None
                if found is None:
                    receiver = m.imports.resolve(f.value) or dotted(f.value) or ""
                    if "state" in receiver.lower() or (isinstance(f.value, ast.Name)
                                                       and f.value.id not in m.imports.aliases):
                        return []  # flax's own TrainState, or a class held in a variable: may keep them
                    continue
            elif isinstance(f, ast.Name):
                found = _class_in_scope(project, m, f.id)
                if found is None:
                    continue
            else:
                continue
            if _is_train_state_class(project, *found):
                created[id(found[1])] = found
    if created and all(_apply_gradients_drops(project, m, cls) for m, cls in created.values()):
        return sorted(cls.name for _, cls in created.values())
    return []


def _project_base(project: Project, module: Module, cls: ast.ClassDef) -> Optional[tuple[Module, ast.ClassDef]]:
    return next((found for b in cls.bases if isinstance(b, ast.Name)
                 for found in [_class_in_scope(project, module, b.id)] if found is not None), None)


def _is_train_state_class(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """A project class deriving from a ``TrainState`` (or defining ``apply_gradients`` itself)."""
    if depth > 5:
        return False
    if any(isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef)) and b.name == "apply_gradients" for b in cls.body) \
            or any((dotted(b) or "").endswith("TrainState") for b in cls.bases):
        return True
    base = _project_base(project, module, cls)
    return base is not None and _is_train_state_class(project, *base, depth + 1)


def _apply_gradients_drops(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Does ``cls.apply_gradients`` (its own or a project base's) take ``batch_stats=`` (by name or in
    ``**kwargs``) and never read it? An override that hands ``**kwargs`` to
    ``super().apply_gradients`` leaves the answer to the base; flax's own keeps every field."""
    if depth > 5:
        return False
    method = next((b for b in cls.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))
                   and b.name == "apply_gradients"), None)
    if method is None:
        base = _project_base(project, module, cls)
        return base is not None and _apply_gradients_drops(project, *base, depth + 1)
    a = method.args
    if "batch_stats" in {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}:
        holder = "batch_stats"
    elif a.kwarg is not None:
        holder = a.kwarg.arg
    else:
        return False  # batch_stats= would raise a TypeError: another problem
    reads = [n for n in astwalk.walk(method) if isinstance(n, ast.Name) and n.id == holder and isinstance(n.ctx, ast.Load)]
    if not reads:
        return True
    if holder == "batch_stats":
        return False
    # only forwarded as `super().apply_gradients(..., **kwargs)`: the base decides
    for r in reads:
        kw, call = module.parent(r), module.parent(module.parent(r))
        if not (isinstance(kw, ast.keyword) and kw.arg is None and isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute) and call.func.attr == "apply_gradients"
                and isinstance(call.func.value, ast.Call) and isinstance(call.func.value.func, ast.Name)
                and call.func.value.func.id == "super"):
            return False
    base = _project_base(project, module, cls)
    return base is not None and _apply_gradients_drops(project, *base, depth + 1)


def _variables_argument(call: ast.Call) -> Optional[ast.expr]:
    if call.args and not isinstance(call.args[0], ast.Starred):
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg == "variables"), None)


def _superseded_pass(module: Module, dropped: ast.Call, kept: list[ast.Call]) -> Optional[ast.Call]:
    """A later apply of ``kept`` that makes the dropped training pass ``dropped`` lose its statistics
    for sure: a statement further down the same block (both always run, in that order), the same
    model (same callee, same ``method=``, same keywords but ``rngs``) started from the very same
    variables (same expression, none of its names rebound in between: not chained from the dropped
    pass's output) on other inputs. Both passes update the same layers from the same old statistics;
    the written-back result holds only the later batch."""
    variables = _variables_argument(dropped)
    d_stmt = module.statement_of(dropped)
    scope = module.scope_of(dropped)
    if variables is None or d_stmt is None or scope is None:
        return None
    block = module.parent(d_stmt)

    def other_keywords(call: ast.Call) -> dict:
        return {k.arg: ast.dump(k.value) for k in call.keywords if k.arg not in ("rngs", "variables")}
    if any(k.arg is None for k in dropped.keywords):
        return None  # **kwargs: the mode and the collections are unknown
    for later in kept:
        k_stmt = module.statement_of(later)
        if (k_stmt is None or module.parent(k_stmt) is not block or k_stmt.lineno <= d_stmt.lineno
                or module.scope_of(later) is not scope):
            continue
        if not any(k_stmt in getattr(block, f, ()) and d_stmt in getattr(block, f, ())
                   for f in ("body", "orelse", "finalbody", "handlers")):
            continue  # if / else branches: only one of them runs
        if ast.dump(later.func) != ast.dump(dropped.func) or other_keywords(later) != other_keywords(dropped):
            continue
        k_vars = _variables_argument(later)
        if k_vars is None or ast.dump(k_vars) != ast.dump(variables):
            continue
        if [ast.dump(a) for a in later.args[1:]] == [ast.dump(a) for a in dropped.args[1:]]:
            continue  # the same batch again: the kept statistics include it
        names = {n.id for n in astwalk.walk(variables) if isinstance(n, ast.Name)}
        rebound = any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store) and n.id in names
                      and d_stmt.lineno <= n.lineno <= k_stmt.lineno for n in astwalk.walk(scope))
        if rebound or any(isinstance(n, ast.Starred) for n in later.args):
            continue
        return later
    return None


@register
class BatchStatsDropped(Rule):
    code = "BN402"
    name = "batch-stats-dropped"
    framework = "flax"
    summary = "The batch_stats returned by apply(..., mutable=['batch_stats']) are never written back."
    triggers = ("batch_stats", "nnx")
    doc = RuleDoc(
        what="""
Finds, in a training step (a function that computes gradients or applies updates),
`model.apply(variables, x, mutable=['batch_stats'])` whose second result — the updated
statistics — is discarded: `logits, _ = ...`, `...[0]`, a name never read, or a loss function that
returns it as `has_aux` output which the step then ignores (`(loss, (logits, _)), grads = grad_fn(...)`,
or an aux name never read — typically `state.apply_gradients(grads=grads)` without
`batch_stats=...`). The loss function may be nested in the step, defined at module level and
differentiated there, or a helper called from a differentiated lambda; the apply may be mutable only
in training (`mutable=['batch_stats'] if train else False`, `logits, updates = outs if train else
(outs, None)`), and the step may unpack the aux output later (`ret, grads = grad_fn(...)`, then
`ret[1]` or `loss, acc, new_state = ret[0], *ret[1]`). A step that only hands the
statistics to its caller (`return loss, grads, new_model_state["batch_stats"]`, e.g. a
gradient-accumulation micro-step) is judged at its calls: one that reads the step's other results
but unpacks the statistics into `_` or a name it never reads drops them. For Flax NNX: a `jax.jit` step that `nnx.merge`s the model, trains it, and never
splits/returns the new state (the BatchNorm statistics of that step are lost); or one that returns
the new BatchStat state (`nnx.split(model, nnx.Param, nnx.BatchStat)`, `nnx.state(model, nnx.BatchStat)`)
while its caller unpacks that result into `_` or a name it never reads.
Two writes keep nothing: `state.apply_gradients(grads=grads, batch_stats=...)` when every train
state the program creates is a project `TrainState` subclass whose `apply_gradients` override never
reads that keyword (`def apply_gradients(self, *, grads, **kwargs): return
super().apply_gradients(grads=grads)`); and, inside a step compiled with `jax.jit`/`jax.pmap`
(decorated or wrapped as `jax.jit(train_step)`), an in-place change of a dict argument the step never
rebinds nor returns (`model_state.update(new_model_state)`, `variables["batch_stats"] = ...`,
`d |= ...`): the traced function changes its copy, the caller's dict keeps the old statistics.
Also, in a project that trains batch_stats, variable dicts whose statistics never see training: a
dict `{"params": state.params, "batch_stats": variables["batch_stats"]}` handed to a serializer
(`serialization.to_bytes`, `save_checkpoint`, ...) where `variables` is only ever the result of
`model.init(...)`; and an EMA copy rebuilt by a function that returns `{"params": <blended>,
"batch_stats": ema["batch_stats"]}` from its parameter `ema`, when every caller stores the result
back into the name it passed (`ema = update_ema(ema, state)`) and nothing else refreshes it; and an
evaluation function (a `def`, a lambda, either wrapped in `jax.jit`) that takes the params as an
argument but closes over the init statistics (`predict = jax.jit(lambda params, x: model.apply({"params":
params, "batch_stats": variables["batch_stats"]}, x, train=False))`, `{**variables, "params": params}`,
or a name bound only to `variables["batch_stats"]`), where `variables` is only ever the result of
`model.init(...)`, when the program calls it with params other than the init ones (`predict(state.params,
x_val)`): every evaluation normalizes with the initial 0/1 statistics while training keeps the new ones
elsewhere (the train state). Likewise an evaluation function that receives those init variables as an
argument and overrides only their params with another argument's (`def evaluate(model, variables,
state, batch): model.apply({**variables, "params": state.params}, batch, train=False)`, also
`dict(variables, params=...)`, `variables | {"params": ...}`, `variables.copy({"params": ...})`), when
every caller passes the unchanged `model.init(...)` result (read there for its `batch_stats`, which
seed the train state) and some caller passes params of another origin. And the mirror at restore time: a function that copies only the `params`
entry of a checkpoint it reads back (`raw = serialization.msgpack_restore(...)`,
`checkpoints.restore_checkpoint(...)`, an orbax `restore`: `raw["params"]`, `restored.params`,
`from_state_dict(target.params, raw["params"])`) into a fresh state (`target.replace(params=...)`
without `batch_stats=`, where `target` is only ever `TrainState.create(..., batch_stats=variables["batch_stats"])`
of `model.init` variables, built there or by a project function returning it) or applies it next to the init
statistics (`apply({"params": raw["params"], "batch_stats": variables["batch_stats"]}, x, train=False)`),
when nothing trains or recalibrates the result afterwards (in that function, or in the callers it
returns the state to): the restored model evaluates with the initial 0/1 statistics.
Mixed dict levels lose them too (`apply` takes and returns dicts of collections, `{"batch_stats":
{"BatchNorm_0": ...}}`; `variables["batch_stats"]` and a TrainState's `batch_stats` hold the inner,
per-layer dict): the whole mutated-collections dict (the un-indexed `updates`) written as the inner
one, `state.replace(batch_stats={**state.batch_stats, **updates})` (a nested "batch_stats" entry
is added and every layer keeps its old statistics) or `apply_gradients(..., batch_stats=updates)`,
when the program reads that field as the inner dict (`{"params": p, "batch_stats": state.batch_stats}`);
and a training apply with `mutable=['batch_stats']` whose variables dict spreads a value that is only
ever the inner dict (`{"params": p, **model_state}` with `model_state = variables["batch_stats"]` and
the step returning `new_state["batch_stats"]` into it, or `**state.batch_stats`): the layers' entries
land at the top level, no "batch_stats" collection reaches apply, and BatchNorm starts from fresh 0/1
statistics at every step. The same happens with no spread at all: an apply whose variables hold no
"batch_stats" collection (`state.apply_fn({"params": state.params}, x, train=False, mutable=["batch_stats"])`,
`dict(params=p)`, or a local name bound once to such a dict and never completed), with `mutable` naming
batch_stats (or `mutable=True`), in a program that trains batch_stats: without `mutable` flax would raise
on the missing collection, with it every BatchNorm creates its statistics afresh (mean 0, variance 1), so an
evaluation normalizes with the initial statistics and a training pass restarts its running averages from
0/1 at every call. A step that writes the new statistics only into a local name nothing reads
afterwards drops them too (`stepped = state.replace(batch_stats=updates["batch_stats"])`, then `return
state.apply_gradients(grads=grads)` on the step's input state: apply_gradients copies every other field
of the state it is called on). Grafting a pretrained tree into fresh init variables by its `params`
only (`p = unfreeze(variables["params"]); p["backbone"] = ckpt["params"]["backbone"]; return {"params":
p, "batch_stats": variables["batch_stats"]}`, or `State.create(params=ckpt["params"],
batch_stats=variables["batch_stats"])`), where `variables` is a `model.init` result and `ckpt` surely
carries `batch_stats` of its own (built with them, or read for them by the caller), when nothing
afterwards can change the statistics (no mutable apply, recalibration or state rebuilt with
`batch_stats=`; a frozen backbone): the pretrained layers normalize with the initial 0/1 statistics.
Several training passes in one step lose all but one batch when they are not chained: a mutable
apply whose statistics are dropped (`logits_l, _ = state.apply_fn(variables, x_l, train=True,
mutable=["batch_stats"])`) followed, further down the same block, by an apply of the same model (same
callee, `method=` and keywords but `rngs`) from the very same variables on another batch whose statistics
are kept: both start from the old statistics, so the written-back result holds the later batch only
(separate labelled / unlabelled or source / target passes; concatenate them into one pass, or feed each
pass's updates into the next).
For NNX, an eval-mode copy (`teacher = nnx.clone(student)` / `copy.deepcopy`, then `teacher.eval()`)
updated by `nnx.update(teacher, <blend of nnx.state(..., nnx.Param) only>)`, inline or in a helper every
caller of which passes such a copy, when nothing it is handed to writes its BatchStat state: the copy's
statistics stay those of the moment it was copied (the NNX form of BN306's parameter-only EMA).
Three more ways to lose every update: a train state created with the whole `model.init` result as its
params (`TrainState.create(params=variables, ...)`: params AND batch_stats) in a program that trains
batch_stats and never rewrites a state's params but through the optimizer (no other `params=`
keyword, no `["batch_stats"]` store, no dict `.update`/`|=`): optax moves the statistics by their zero
gradients and the ones apply returns never reach the state; a train state rebuilt in the training loop
(warm restarts, a new optimizer per phase) with the previous state's params but a fresh `model.init`'s
batch_stats (`TrainState.create(params=previous.params, ..., batch_stats=variables["batch_stats"])` in
a factory every such loop calls as `state = rebuild(..., previous=state)`, or `state =
fresh.replace(params=state.params)` of an init state), when the loop trains the statistics and nothing
reads the previous state's `batch_stats`: every rebuild throws them back to 0/1; and an NNX function
that copies the model's BatchStat state (`jax.tree.map(jnp.copy, nnx.state(model, nnx.BatchStat))`,
`copy.deepcopy`, or a project helper returning such a copy) before two or more forward passes and
restores it (`nnx.update(model, snapshot)`) after all of them, in a training step that runs no other
pass of the model: meant to discard one pass's update (an augmented view), it discards them all.
Values are followed through names, tuple unpacking, parameters (every call
site), attribute stores, `replace`/`create` keywords, returns and `value_and_grad(..., has_aux=True)`.
""",
        why="""
`apply` is pure: the new moving mean/variance exist only in the returned `batch_stats`. If the step
does not put them back into the train state, every step starts from the initial statistics (zeros
and ones) and evaluation with `use_running_average=True` normalises with them — accuracy collapses
while the training loss looks fine (flax#1489, flax#3602 threads).
""",
        example="""
def train_step(state, x, y):
    def loss_fn(params):
        logits, new_model_state = state.apply_fn(
            {"params": params, "batch_stats": state.batch_stats}, x, train=True, mutable=["batch_stats"])
        return cross_entropy(logits, y), new_model_state
    (loss, new_model_state), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), loss
""",
        use_instead="""
    state = state.apply_gradients(grads=grads, batch_stats=new_model_state["batch_stats"])
""",
        not_flagged="""
- evaluation functions and forward-pass tests (no gradient, no optimizer update; a `.update(...)` that
  fills a dict, `hps.update({...})` or `d.update(k=v)`, is not an optimizer update);
- variables dicts completed before the apply (`variables["batch_stats"] = ...`, `.update(...)`), dicts with
  a spread (`{"params": p, **rest}`) or built elsewhere, and params-only applies that are not mutable (flax
  raises on the missing collection: nothing is silently created);
- any read of the returned statistics (written into the state, stored in a dict, returned to a
  caller that keeps them); a call of such a step that ignores all its results (a warm-up/compile call);
- a call of such a step that also throws away the gradients it returns (an evaluation re-using the
  step: BN404 judges it), or that passes the step's flag in inference mode (`apply_model(...,
  train=False)`: running averages, the returned statistics are the unchanged ones);
- `apply_gradients` overrides that forward `**kwargs` (to `super().apply_gradients` or `replace`) or
  take `batch_stats` by name and use it; a program that also creates a stock flax `TrainState`, or
  creates its state from a class held in a variable (which class runs is unknown);
- in-place dict updates outside `jax.jit`/`jax.pmap` (eager code changes the caller's dict), or of a
  dict the jitted step returns;
- checkpoints and EMA copies that take `batch_stats` from the train state, average them, or whose
  source may be anything but `model.init` (a restored checkpoint, a recalibration);
- a restore that takes the params only and then fine-tunes the state (a training step, a mutable apply
  or a recalibration helper reached after it, also by the caller it returns the state to), one that
  restores `batch_stats` as well, or writes into `self.state` (the object's other methods are not followed);
- evaluation functions that take the statistics as an argument or close over a name the training
  loop rebinds or changes in place, or that override params and batch_stats of a variables dict,
  or override only the params of one some caller passes that is not the unchanged `model.init` result
  (the loop keeps it current), ones only called with the init params (a check before
  training), and one-off inline applies mixing trained params with the init statistics (a deliberate
  comparison);
- projects whose every linen BatchNorm is built with `use_running_average=False` (the running
  averages are never read, so dropping them changes nothing);
- `{**variables, **updates}` (both dicts of collections), `{**state.batch_stats, **updates["batch_stats"]}`,
  a `batch_stats` field that the program spreads into apply (`{"params": p, **state.batch_stats}`: it
  holds all collections), and spreads of a value with any source that is not surely the inner dict
  (`flax.core.pop(variables, "params")`, the whole `updates`, a restored checkpoint);
- NNX steps decorated with `nnx.jit` (they update the module in place);
- an NNX BatchStat snapshot restored after the step's only forward pass (a deliberate freeze), or taken
  after some pass (that pass's update is kept), an uncopied `nnx.state(...)` snapshot (live references
  in recent flax, a copy in older versions: unknown), or a step that runs another pass of the model;
- whole init variables as a train state's params when no training apply is mutable (BatchNorm frozen on
  purpose) or the program can write the params by another way (`replace(params=...)`, `.copy({...})`);
- a rebuilt train state that carries the previous state's `batch_stats` too, or one rebuilt with
  another tree's params (a pretrained model, a new fold), not the state its loop trains;
- a `jax.jit` NNX merge step whose graphdef surely comes from `nnx.split` of a model built by project
  classes that hold no BatchNorm (followed across modules, through factory functions returning
  `Cls(...)`, and to the step's callers when the graphdef is an argument): it has no statistics to lose,
  whatever other models of the project use;
- a local holding the new statistics that is read later (also in a loop around it or a nested
  function), or stored through a call that may keep it (a logger, a saver);
- pretrained grafts that copy the tree's `batch_stats` too, whose source may lack them (a params-only
  export, a BN-free backbone), or whose statistics a later mutable apply / recalibration trains;
- NNX copies run in train mode (a BYOL target: its own forward passes move its statistics), or whose
  BatchStat state is copied anywhere they are handed to (`nnx.update(ema, nnx.state(model, nnx.BatchStat))`),
  or updated with a state filter that includes BatchStat;
- applies whose every BN runs with its running averages (`train=False`, e.g. a GAN discriminator
  applied in the generator's step): they produce no new statistics to keep;
- a dropped pass next to a kept one of the same step when the kept one comes first (SAM's perturbed
  pass, a noisy consistency pass: the reference keeps the unperturbed statistics), when the later pass
  is chained from the dropped one's output, runs another `method=` (an encoder without BN), other
  keywords, the same batch again, or sits in another branch / loop body than the dropped one.
""",
        versions=FLAX_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not module.imports.imports_any("flax", "jax"):
            return
        if project_builds_linen_bn(project) and project_reads_running_averages(project):
            dropped = list(self._linen(module, project))
            yield from dropped
            at = {(f.line, f.col) for f in dropped}
            yield from (f for f in self._inner_stats_spread(module, project) if (f.line, f.col) not in at)
            if trains_batch_stats(project):
                yield from self._stale_variable_dicts(module, project)
                yield from self._init_variables_passed_to_evaluation(module, project)
                yield from self._restored_params_with_init_stats(module, project)
            yield from self._grafted_params_with_init_stats(module, project)
            if trains_batch_stats(project):
                yield from (f for f in self._stats_missing_from_variables(module, project) if (f.line, f.col) not in at)
                if not dropped:  # a dropped apply result is the same lost write, reported at the apply
                    yield from self._whole_variables_as_params(module, project)
                yield from self._rebuilt_state_resets_stats(module, project)
        yield from self._nnx_merge_dropped(module, project)
        yield from self._nnx_snapshot_restored(module, project)
        yield from self._nnx_param_only_ema(module, project)

    def _nnx_param_only_ema(self, module: Module, project: Project) -> Iterable[Finding]:
        """An NNX teacher / EMA copy (``teacher = nnx.clone(student)``, put in eval mode) updated by
        ``nnx.update(teacher, <state of nnx.state(..., nnx.Param) only>)``, inline or in a project
        function every caller of which passes such a copy, when nothing it is handed to writes its
        BatchStat state: the copy normalizes with its clone-time statistics forever while its params move
        (the NNX counterpart of BN306's parameter-only EMA)."""
        if not module.imports.imports_any("flax.nnx", "flax.experimental.nnx") or not module.mentions("Param") \
                or not any(project.calls_to(q) for q in NNX_BN):
            return
        for c in module.calls:
            node, fn = c.node, c.scope
            if fn is None or not _nnx_call(module, node, "update") or len(node.args) < 2 \
                    or not isinstance(node.args[0], ast.Name) or kf.has_kwargs_splat(node):
                continue
            if not all(_param_only_state(module, fn, a) for a in node.args[1:]) or _copies_batch_stats(module, fn):
                continue
            target = node.args[0].id
            if kf._param_index(fn, target)[2]:
                if _bindings_in(fn, target) != [] or module.parent(fn) is not module.tree:
                    continue
                sites = _calls_of(project, module, fn)
                holders = []
                for site in sites:
                    arg, explicit = kf.argument_for(site.node, fn, target)
                    if not explicit or not isinstance(arg, ast.Name):
                        break
                    holders.append((site.module, site.module.scope_of(site.node), arg.id))
                else:
                    if not holders:
                        continue
                    if not all(self._stale_nnx_copy(project, m, scope, name, fn) for m, scope, name in holders):
                        continue
                    yield self._nnx_ema_finding(module, node, target)
                continue
            if self._stale_nnx_copy(project, module, fn, target, fn):
                yield self._nnx_ema_finding(module, node, target)

    @staticmethod
    def _stale_nnx_copy(project: Project, module: Module, scope: Optional[FuncNode], name: str,
                        updater: FuncNode) -> bool:
        """``name`` in ``scope`` is an eval-mode NNX copy, and neither ``scope`` nor any project function
        it hands ``name`` to writes BatchStat state."""
        if scope is None or _nnx_eval_copy(project, module, scope, name) is None:
            return False
        if _copies_batch_stats(module, scope) and scope is not updater:
            return False
        for n in astwalk.walk(scope):
            if not (isinstance(n, ast.Call) and any(isinstance(a, ast.Name) and a.id == name for a in n.args)):
                continue
            callee_module, callee = kf.resolve_def_in(project, module, n.func) \
                if isinstance(n.func, (ast.Name, ast.Attribute)) else (None, None)
            if callee is updater or callee_module is None:
                continue
            if not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)) or _copies_batch_stats(callee_module, callee):
                return False
        return True

    def _nnx_ema_finding(self, module: Module, node: ast.Call, target: str) -> Finding:
        return self.finding(module, node, (
            f"`{target}` is an eval-mode copy of an NNX model (nnx.clone) updated with its nnx.Param state only: "
            "its nnx.BatchStat running statistics keep the values they had when it was copied while its params "
            "follow the trained model, so every prediction of the copy normalizes with statistics that never "
            f"move; copy the BatchStat state too (`nnx.update({target}, nnx.state(model, nnx.BatchStat))`) or "
            "average it with the params"))

    def _inner_stats_spread(self, module: Module, project: Project) -> Iterable[Finding]:
        """A training apply with ``mutable=['batch_stats']`` whose variables dict spreads a value that
        is only ever the inner batch_stats dict (``{"params": p, **model_state}`` with ``model_state =
        variables["batch_stats"]``): the BatchNorm layers' entries land at the top level, no
        "batch_stats" collection reaches apply, and BatchNorm creates fresh 0/1 statistics every step."""
        shape = None
        for c in module.calls:
            if not _is_apply(c) or not _mutable_has_batch_stats(module, project, c.node):
                continue
            variables = c.node.args[0] if c.node.args else kf.kwarg(c.node, "variables")
            if not isinstance(variables, ast.Dict) or any(
                    isinstance(k, ast.Constant) and k.value == "batch_stats" for k in variables.keys):
                continue
            spreads = [v for k, v in zip(variables.keys, variables.values) if k is None]
            if not spreads:
                continue
            outer = _outermost_function(module, c.node)
            if outer is None or not self._in_training(module, project, outer):
                continue
            for v in spreads:
                shape = shape or _StatsShape(module, project)
                shape.evidence.clear()
                if shape.kinds(v, module, module.scope_of(v)) != frozenset([INNER_STATS]):
                    continue
                seen = next(((n, m) for kind, n, m in shape.evidence if kind == INNER_STATS), None)
                source = f" (`{ast.unparse(seen[0])}` at {seen[1].where(seen[0].lineno)})" if seen else ""
                yield self.finding(module, c.node, (
                    f"the variables dict spreads `{ast.unparse(v)}`, which holds the inner batch_stats dict"
                    f"{source}, not a dict of collections: its BatchNorm entries land at the top level and no "
                    "\"batch_stats\" collection reaches apply, so with mutable=['batch_stats'] BatchNorm starts from "
                    "fresh 0/1 statistics at every step; pass it under its collection "
                    f"(`{{\"params\": ..., \"batch_stats\": {ast.unparse(v)}}}`)"))
                break

    def _stats_missing_from_variables(self, module: Module, project: Project) -> Iterable[Finding]:
        """``state.apply_fn({"params": state.params}, x, train=False, mutable=["batch_stats"])`` in a
        project that trains batch_stats: the variables hold no "batch_stats" collection (a dict display
        or ``dict(params=...)`` with constant keys only, no spread, written at the apply or bound once
        to a local name), and the mutable collection lets every BatchNorm create its statistics afresh
        (mean 0, variance 1) instead of failing: an evaluation normalizes with the initial statistics,
        a training pass restarts its running averages from 0/1 at every step."""
        if not module.mentions("mutable") or is_test_file(module.path):
            return
        flags = None
        for c in module.calls:
            if not _is_apply(c) or c.name in ("apply_gradients",) or not c.node.args:
                continue
            m = kf.kwarg(c.node, "mutable")
            if m is None or not (_mutable_value_has_batch_stats(module, project, m) or kf._literal(m) is True):
                continue
            keys = _constant_variable_keys(module, c.node.args[0], c.node)
            if keys is None or "batch_stats" in keys or "params" not in keys:
                continue
            if flags is None:
                flags = step_bn_flags(project, module) or {}
            mode = _bn_mode_of_apply(module, project, c.node, flags) if flags else None
            if mode is None:  # the model's classes not reached from here (``state.apply_fn`` in an eval module)
                k = next((k for k in c.node.keywords if k.arg in ("train", "training", "is_training",
                                                                  "use_running_average")
                          and isinstance(k.value, ast.Constant) and isinstance(k.value.value, bool)), None)
                if k is not None:
                    mode = (k.value.value is (k.arg == "use_running_average"), f"{k.arg}={k.value.value}")  # type: ignore[attr-defined]
            if (mode is None or not mode[0]) and _new_stats_thrown_away(module, c.node):
                continue  # batch statistics normalize the pass and the fresh ones are dropped: nothing is read
            if not any(other.node is not c.node and "batch_stats" in (_constant_variable_keys(
                    other.module, other.node.args[0], other.node) or {"batch_stats"}) if other.node.args else True
                       for other in trains_batch_stats(project)):
                continue  # no apply of the program hands statistics in: none are kept anywhere
            where = f" ({mode[1]})" if mode is not None else ""
            if mode is not None and mode[0]:
                effect = (f"with the running averages{where} every evaluation through it normalizes with those "
                          "initial statistics, never the ones training writes into the state")
            elif mode is not None:
                effect = (f"in training mode{where} the new statistics it returns are blended from 0/1 again at every "
                          "call, so the running averages never accumulate")
            else:
                effect = ("its BatchNorms read (or restart their running averages from) those initial statistics, "
                          "never the ones training keeps")
            given = ", ".join(f'"{k}"' for k in sorted(keys))
            yield self.finding(module, c.node, (
                f"the variables passed to `{ast.unparse(c.node.func)}` hold only {given}, no \"batch_stats\" "
                f"collection, and `mutable={ast.unparse(m)}` lets every BatchNorm create its missing statistics "
                f"afresh (mean 0, variance 1) instead of failing: {effect}; pass the trained statistics "
                "(`{\"params\": ..., \"batch_stats\": state.batch_stats}`)"))

    def _stale_variable_dicts(self, module: Module, project: Project) -> Iterable[Finding]:
        """Variable dicts ``{"params": <trained>, "batch_stats": X["batch_stats"]}`` whose statistics
        never see training: a checkpoint written with the ``model.init(...)`` variables' batch_stats
        next to the trained params, or an EMA copy rebuilt every step from its own previous
        batch_stats (``ema = update_ema(ema, state)`` returning ``{"params": incremental_update(...),
        "batch_stats": ema["batch_stats"]}``)."""
        for d in module.nodes_of_kind.get(ast.Dict, ()):
            entries = {k.value: v for k, v in zip(d.keys, d.values) if isinstance(k, ast.Constant)}
            stats, params = entries.get("batch_stats"), entries.get("params")
            spread = next((v for k, v in zip(d.keys, d.values) if k is None and isinstance(v, ast.Name)), None) \
                if stats is None else None  # ``{**variables, "params": params}``: the statistics come from the spread
            if isinstance(stats or spread, (ast.Name, ast.Subscript)) and isinstance(params, ast.Name):
                closed = _closed_over_init_stats(module, project, d, stats or spread, params, spread is not None)
                if closed is not None:
                    fn_name, root, where = closed
                    yield self.finding(module, stats or spread, (
                        f"`{fn_name}` takes the params as its argument `{params.id}` but reads `batch_stats` from "
                        f"`{root}`, the variables returned by `model.init(...)` ({where}), which training never "
                        "changes (the train step writes the new statistics elsewhere): every evaluation through "
                        f"`{fn_name}` normalizes with the initial 0/1 statistics; pass the trained batch_stats in "
                        "as an argument (`state.batch_stats`)"))
                    continue
            if not (isinstance(stats, ast.Subscript) and isinstance(stats.value, ast.Name)
                    and isinstance(stats.slice, ast.Constant) and stats.slice.value == "batch_stats") or params is None:
                continue
            source = stats.value.id
            if isinstance(params, ast.Subscript) and isinstance(params.value, ast.Name) and params.value.id == source:
                continue  # params and statistics from the same dict: a copy, not a mix
            saved = _saved_by(module, d)
            if saved is not None and isinstance(params, ast.Attribute) and params.attr == "params" \
                    and _init_variables(module, project, stats.value, 0):
                yield self.finding(module, stats, (
                    f"the checkpoint written by `{saved}` takes `batch_stats` from `{source}`, the variables of "
                    "`model.init(...)`, next to the trained params: the saved BatchNorm statistics are the initial "
                    "zeros/ones; save the train state's batch_stats (`state.batch_stats`)"))
                continue
            fn = module.scope_of(d)
            if isinstance(module.parent(d), ast.Return) and fn is not None and kf._param_index(fn, source)[2] \
                    and _rebound_from_itself(project, fn, source):
                yield self.finding(module, stats, (
                    f"`{fn.name}` rebuilds `{source}` with new params but its own previous `batch_stats`, and every "
                    f"caller stores the result back into the `{source}` it passed: these BatchNorm statistics never "
                    "change from their initial values while the params move; take them from the train state "
                    "(`state.batch_stats`) or average them too"))

    def _init_variables_passed_to_evaluation(self, module: Module, project: Project) -> Iterable[Finding]:
        """``def evaluate(model, variables, state, batch): model.apply({**variables, "params":
        state.params}, batch, train=False)`` (also ``dict(variables, params=...)``, ``variables |
        {"params": ...}``, ``variables.copy({"params": ...})``, ``flax.core.copy(variables, {...})``):
        an evaluation apply (nothing mutable) whose variables override only the params of a dict that
        every caller passes as the unchanged result of ``model.init(...)`` (one that also supplies the
        train state's ``batch_stats``), while the params come from another argument: the spread
        supplies the initial 0/1 batch_stats, and the statistics training writes into the state never
        reach this evaluation."""
        if not module.mentions("params") or is_test_file(module.path):
            return
        for expr, base, params in _params_overrides(module):
            fn = module.scope_of(expr)
            root = _params_root(params)
            if fn is None or root is None or root.id == base.id or not kf._param_index(fn, base.id)[2] \
                    or not kf._param_index(fn, root.id)[2] or _bindings_in(fn, base.id) != []:
                continue
            apply = _evaluation_apply_of(module, project, expr)
            if apply is None:
                continue
            source = _init_variables_argument(project, module, fn, base.id, root.id, 0)
            if source is None:
                continue
            yield self.finding(module, base, (
                f"`{fn.name}` overrides only the params of `{base.id}`, and every caller passes there the variables "
                f"returned by `model.init(...)` ({source}), while the trained params come from `{root.id}`: the "
                f"spread supplies the initial 0/1 batch_stats, so this evaluation never sees the statistics training "
                f"writes into the state; override `batch_stats` too (`\"batch_stats\": "
                f"{ast.unparse(params.value) + '.batch_stats' if isinstance(params, ast.Attribute) else '...'}`)"))

    def _restored_params_with_init_stats(self, module: Module, project: Project) -> Iterable[Finding]:
        """A function that takes only the ``params`` sub-tree of a restored checkpoint
        (``raw["params"]``, ``restored.params``, ``from_state_dict(target.params, raw["params"])``) into
        a fresh ``model.init`` state (``init_state.replace(params=...)``, where ``init_state`` is only
        ever a ``TrainState.create(..., batch_stats=variables["batch_stats"])`` of init variables, built
        in the function or by a project function returning it) or into a variables dict next to the init
        statistics (``{"params": raw["params"], "batch_stats": variables["batch_stats"]}``), and that
        trains nothing afterwards: what it evaluates or returns normalizes with the initial 0/1
        statistics, while the checkpoint (a state or variables tree: it has a ``params`` entry) holds
        the trained ones."""
        if not module.mentions("params") or not any(module.mentions(n) for n in _RESTORE_NAMES) \
                or is_test_file(module.path):
            return
        for c in module.calls:
            node, fn = c.node, c.scope
            if fn is None:
                continue
            if c.name == "replace" and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                params = kf.kwarg(node, "params")
                if params is None or kf.kwarg(node, "batch_stats") is not None or kf.has_kwargs_splat(node):
                    continue
                source = _restored_params_source(module, fn, params)
                if source is None or not _init_state_name(module, project, fn, node.func.value.id, 0):
                    continue
                fresh, at, flows = f"`{node.func.value.id}`", node, _flows_out(module, fn, node)
            elif _is_apply(c) and not _mutable_has_batch_stats(module, project, node) \
                    and kf.kwarg(node, "mutable") is None:
                d = node.args[0] if node.args else kf.kwarg(node, "variables")
                if not isinstance(d, ast.Dict):
                    continue
                entries = {k.value: v for k, v in zip(d.keys, d.values) if isinstance(k, ast.Constant)}
                stats, params = entries.get("batch_stats"), entries.get("params")
                if params is None or not isinstance(stats, (ast.Name, ast.Subscript)):
                    continue
                root = _init_only_stats(fn, stats)
                source = _restored_params_source(module, fn, params) if root is not None else None
                if source is None:
                    continue
                fresh, at, flows = f"`{root}` (model.init)", stats, False  # apply's outputs, not a model
            else:
                continue
            if self._trains_after(module, project, fn, node, flows):
                continue
            yield self.finding(module, at, (
                f"only the params of the restored checkpoint `{source}` are taken; the BatchNorm statistics stay "
                f"those of {fresh}, freshly initialised by `model.init` (zeros/ones), and nothing trains them "
                f"afterwards in `{fn.name}` or its callers: every evaluation of the restored model normalizes with "
                f"the initial statistics instead of the trained ones; restore the checkpoint's `batch_stats` too "
                f"(`replace(params=..., batch_stats=...)`), saving them with the params if the checkpoint lacks them"))

    def _grafted_params_with_init_stats(self, module: Module, project: Project) -> Iterable[Finding]:
        """A variables dict ``{"params": <pretrained>, "batch_stats": variables["batch_stats"]}`` (or
        ``State.create(params=..., batch_stats=...)``) whose params take a pretrained tree's ``params``
        (whole, or grafted sub-tree by sub-tree into a copy of the init params) while its statistics are
        those of ``model.init`` (zeros/ones), when that pretrained tree surely carries ``batch_stats`` of
        its own (built with them, or read for them by the caller) and nothing afterwards can change the
        statistics (no mutable apply, no recalibration, no state rebuilt with ``batch_stats=``): the
        pretrained layers normalize with the initial statistics instead of their own."""
        if not module.mentions("params") or is_test_file(module.path):
            return
        sites: list[tuple[ast.AST, ast.expr, ast.expr]] = []
        for d in module.nodes_of_kind.get(ast.Dict, ()):
            entries = {k.value: v for k, v in zip(d.keys, d.values) if isinstance(k, ast.Constant)}
            if "params" in entries and "batch_stats" in entries:
                sites.append((d, entries["params"], entries["batch_stats"]))
        for c in module.calls:
            if c.name == "create":
                params, stats = kf.kwarg(c.node, "params"), kf.kwarg(c.node, "batch_stats")
                if params is not None and stats is not None:
                    sites.append((c.node, params, stats))
        for at, params, stats in sites:
            fn = module.scope_of(at)
            if fn is None or (isinstance(at, ast.Dict) and _saved_by(module, at) is not None):
                continue  # a checkpoint written: `_stale_variable_dicts`
            root = _init_argument_stats(module, project, fn, stats)
            if root is None:
                continue
            source = _grafted_params_source(module, project, fn, params, root)
            if source is None:
                continue
            if self._trains_after(module, project, fn, at, True, reaches=_reaches_stats_update):
                continue
            yield self.finding(module, stats, (
                f"the params come from the pretrained tree `{source}`, which has its own `batch_stats`, but the "
                f"statistics stay those of `{root}`, freshly initialised by `model.init` (zeros/ones), and nothing "
                "afterwards updates them (no mutable apply, no recalibration): the pretrained layers normalize with "
                "the initial statistics instead of the ones they were trained with; take the pretrained "
                f"`batch_stats` too (the same sub-trees from `{source}[\"batch_stats\"]`)"))

    def _whole_variables_as_params(self, module: Module, project: Project) -> Iterable[Finding]:
        """``TrainState.create(params=variables, ...)`` with the whole ``model.init(...)`` result (a
        dict of collections: params AND batch_stats) in a program that trains batch_stats (a training
        apply with ``mutable=['batch_stats']``) and never rewrites a state's params by any other way
        than the optimizer (no other ``params=`` keyword, no ``["batch_stats"]`` store, no dict
        ``.update`` / ``|=``): the optimizer moves the statistics by their zero gradients and the new
        statistics apply returns never reach the state."""
        if not module.mentions("create") or is_test_file(module.path):
            return
        program: Optional[set[int]] = None
        for c in module.calls:
            node = c.node
            if not _state_create(node) or kf.kwarg(node, "batch_stats") is not None or kf.has_kwargs_splat(node):
                continue
            params = kf.kwarg(node, "params")
            if params is None or not _whole_init_variables(module, project, params):
                continue
            program = program if program is not None else same_program(module, project)
            if not any(id(a.module) in program and (outer := _outermost_function(a.module, a.node)) is not None
                       and self._in_training(a.module, project, outer) for a in trains_batch_stats(project)):
                continue
            if _params_rewritten(project, program):
                continue
            yield self.finding(module, params, (
                f"`params={ast.unparse(params)}` puts the whole `model.init` variables (params AND batch_stats) into the "
                "train state's params, and nothing in the program writes the statistics returned by "
                "apply(..., mutable=['batch_stats']) back into them: the optimizer moves the batch_stats by their zero "
                "gradients, so they stay the initial 0/1 values and every evaluation normalizes with them; give the "
                f"state `params={ast.unparse(params)}[\"params\"]` and a `batch_stats` field written by the step "
                "(`apply_gradients(grads=grads, batch_stats=updates[\"batch_stats\"])`)"))

    def _rebuilt_state_resets_stats(self, module: Module, project: Project) -> Iterable[Finding]:
        """A train state rebuilt inside the training loop (warm restarts, a new optimizer per phase)
        with the previous state's params but the batch_stats of a fresh ``model.init``
        (``TrainState.create(params=previous.params, ..., batch_stats=variables["batch_stats"])``, or
        ``fresh.replace(params=previous.params)`` of such a state), where the previous state is the
        one the loop trains (``state = rebuild(..., previous=state)`` or ``state = ...create(params=
        state.params, ...)`` in a loop that updates statistics) and its ``batch_stats`` are never read
        there: every rebuild throws the trained running averages back to 0/1."""
        if not module.mentions("batch_stats") or is_test_file(module.path):
            return
        for c in module.calls:
            node, fn = c.node, c.scope
            if fn is None or kf.has_kwargs_splat(node):
                continue
            if _state_create(node):
                stats = kf.kwarg(node, "batch_stats")
                if stats is None or _init_argument_stats(module, project, fn, stats) is None:
                    continue
            elif not (c.name == "replace" and isinstance(node.func, ast.Attribute)
                      and isinstance(node.func.value, ast.Name) and kf.kwarg(node, "params") is not None
                      and kf.kwarg(node, "batch_stats") is None
                      and _init_state_name(module, project, fn, node.func.value.id, 0)):
                continue
            params = kf.kwarg(node, "params")
            for root in _previous_state_roots(fn, params):  # type: ignore[arg-type]
                loop_line = _carried_state_loop(module, project, fn, node, root)
                if loop_line is None:
                    continue
                yield self.finding(module, node, (
                    f"the train state is rebuilt with the params of `{root}` (the state the training loop at line "
                    f"{loop_line} carries) but with the batch_stats of a fresh `model.init` (zeros/ones): every "
                    "rebuild throws the trained running averages away while the params go on, so evaluation "
                    "normalizes with statistics of the last few steps only, far from the population ones; carry "
                    f"`{root}.batch_stats` over too (`batch_stats={root}.batch_stats`)"))
                break

    def _nnx_snapshot_restored(self, module: Module, project: Project) -> Iterable[Finding]:
        """An NNX function that copies the model's BatchStat state (``jax.tree.map(jnp.copy,
        nnx.state(model, nnx.BatchStat))``) before every forward pass it runs and restores it with
        ``nnx.update(model, snapshot)`` after them, in a training step that runs no other forward pass of
        the model: the restore undoes every statistics update of the step (meant to discard one pass's
        update, like a noisy or augmented view, it also discards the clean one's)."""
        if not module.imports.imports_any("flax.nnx", "flax.experimental.nnx") or not module.mentions("update") \
                or is_test_file(module.path):
            return
        for c in module.calls:
            node, fn = c.node, c.scope
            if fn is None or c.name != "update" or not _nnx_call(module, node, "update") or len(node.args) != 2 or node.keywords \
                    or not isinstance(node.args[0], ast.Name) or not isinstance(node.args[1], ast.Name):
                continue
            model, snap = node.args[0].id, node.args[1].id
            binding = [n for n in astwalk.walk(fn) if isinstance(n, ast.Assign) and len(n.targets) == 1
                       and isinstance(n.targets[0], ast.Name) and n.targets[0].id == snap]
            restore = module.parent(node)
            if len(binding) != 1 or not isinstance(restore, ast.Expr) \
                    or not _copied_batch_stat_snapshot(module, project, fn, node.args[1], model):
                continue
            block = next((getattr(module.parent(restore), f) for f in ("body", "orelse", "finalbody")
                          if restore in getattr(module.parent(restore), f, [])), None)
            if block is None or binding[0] not in block or block.index(binding[0]) > block.index(restore):
                continue
            first, last = binding[0].lineno, restore.lineno
            uses = [n for n in astwalk.walk(fn) if isinstance(n, ast.Call) and n is not node and not _nnx_call(module, n, "state")
                    and (isinstance(n.func, ast.Name) and n.func.id == model
                         or any(isinstance(a, ast.Name) and a.id == model for a in n.args))
                    and not (binding[0].value is n)]
            forwards = [n for n in uses if isinstance(n.func, ast.Name) and n.func.id == model]
            if any(not first < n.lineno < last for n in uses) or len(forwards) < 2:
                continue  # a pass outside the snapshot keeps its update; one pass alone: a deliberate freeze
            if not self._snapshot_step_runs_nothing_else(module, project, fn, model):
                continue
            yield self.finding(module, node, (
                f"`nnx.update({model}, {snap})` restores a copy of the BatchStat state taken before every forward pass "
                f"of `{model}` in `{fn.name}` ({len(forwards)} passes), and the training step runs no other pass: the "
                "restore undoes every running-average update, so the statistics never leave their initial 0/1 values; "
                "take the snapshot after the pass whose statistics should be kept (e.g. after the clean forward)"))

    def _snapshot_step_runs_nothing_else(self, module: Module, project: Project, fn: FuncNode, model: str) -> bool:
        """Does ``fn`` run inside a training step that runs no other pass of the model: ``fn`` is the
        step itself (it computes gradients / updates), or every training function that differentiates
        or calls it uses the model for nothing else (an optimizer update aside)?"""
        index = kf._param_index(fn, model)
        steps = 0
        program = same_program(module, project)
        for m in project.modules:
            if id(m) not in program or not m.mentions(fn.name):
                continue
            for c in m.calls:
                node = c.node
                if c.name in GRAD_NAMES and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id == fn.name:
                    ref = node.args[0]
                elif isinstance(node.func, ast.Name) and node.func.id == fn.name:
                    ref = node.func
                else:
                    continue
                if kf.resolve_def_in(project, m, ref)[1] is not fn:
                    continue
                run = node
                if ref is not node.func:
                    parent = m.parent(node)
                    if not (isinstance(parent, ast.Call) and parent.func is node):
                        return False  # a gradient function kept in a name: its calls are not followed
                    run = parent
                step = _outermost_function(m, run)
                if step is None or step is fn:
                    continue
                if not index[2]:
                    return False
                arg, explicit = kf.argument_for(run, fn, model)
                if not explicit or not isinstance(arg, ast.Name) or _uses_model_otherwise(m, step, arg.id, run):
                    return False
                if _is_training_function(step):
                    steps += 1
        return steps > 0 or _is_training_function(fn)

    @staticmethod
    def _trains_after(module: Module, project: Project, fn: FuncNode, at: ast.AST, flows: bool,
                      depth: int = 0, reaches: Optional[Callable[..., bool]] = None) -> bool:
        """Can the model restored at ``at`` be trained or recalibrated after it: ``fn`` is itself
        differentiated or named for recalibration, a call of ``fn`` placed after ``at`` (or in a loop
        around it) reaches a training step / a mutable apply / a recalibration helper, or ``fn`` hands
        its result on (returns it) to a caller that does so after its call? ``reaches`` replaces
        ``_reaches_training`` as the test of a call."""
        reaches = reaches or _reaches_training
        if fn.name in _differentiated_names(module) or _RECALIBRATION.search(fn.name):
            return True
        loops = [a for a in module.ancestors(at) if isinstance(a, (ast.For, ast.While, ast.AsyncFor))
                 and fn in module.ancestors(a)]
        line = getattr(at, "end_lineno", None) or at.lineno
        for n in astwalk.walk(fn):
            if isinstance(n, ast.Call) and (n.lineno > line or any(n in astwalk.walk(lp) for lp in loops)) \
                    and reaches(module, project, n, 0):
                return True
        if not flows:
            return False
        # the state is handed on: every caller must be known (a module-level function's plain calls)
        sites = _calls_of(project, module, fn) if module.parent(fn) is module.tree else []
        if depth >= 2 or not sites or any(kf.resolve_def(project, s.module, s.node.func) is not fn for s in sites):
            return True
        for site in sites:
            caller = site.module.scope_of(site.node)
            if caller is None:
                continue  # a module-level call: what follows it is judged with the module's own calls
            if BatchStatsDropped._trains_after(site.module, project, caller, site.node,
                                               _flows_out(site.module, caller, site.node), depth + 1, reaches):
                return True
        for n in site_level_calls(module, fn):
            if reaches(module, project, n, 0):
                return True
        return False

    def _linen(self, module: Module, project: Project) -> Iterable[Finding]:
        by_step: dict[int, list[tuple[ast.Call, bool]]] = {}
        returned: dict[int, tuple[FuncNode, list[tuple[int, int, str]]]] = {}
        flags = step_bn_flags(project, module)
        for c in module.calls:
            if not _is_apply(c) or not _mutable_has_batch_stats(module, project, c.node):
                continue
            if flags and _running_average_in_every_bn(module, project, c.node, flags):
                continue  # train=False: every BN uses its running averages, there are no new statistics to keep
            fn = c.scope
            outer = _outermost_function(module, c.node)
            if fn is None or outer is None:
                continue
            if not self._in_training(module, project, outer):
                continue
            if _other_models_forward(module, c.node, outer):
                continue  # a GAN's generator making fakes for the discriminator step: its own step keeps its stats
            by_step.setdefault(id(outer), []).append((c.node, self._dropped(module, project, c.node, fn, outer)))
            if not by_step[id(outer)][-1][1]:
                returned[id(c.node)] = (outer, self._returned_positions(module, c.node, fn, outer))
        for applies in by_step.values():
            # Another apply of the same step keeps its statistics: the author handles batch_stats, and
            # the dropped call may be an encoder pass without BN. Ambiguous, so silent.
            if not all(dropped for _, dropped in applies):
                # ... but not a pass dropped before a later pass of the same model from the same
                # variables that is kept (separate labelled / unlabelled passes, each from the old
                # statistics): the kept result holds only the later batch. A later pass dropped after
                # a kept one (SAM's perturbed pass) and chained passes stay silent.
                kept = [call for call, dropped in applies if not dropped]
                for call, dropped in applies:
                    later = _superseded_pass(module, call, kept) if dropped else None
                    if later is not None:
                        yield self.finding(
                            module, call, "the batch_stats returned by this training apply(..., mutable=["
                            "'batch_stats']) are dropped, and the pass kept later (line "
                            f"{later.lineno}) starts from the same variables, so its statistics hold only "
                            "its own batch: this pass's batch never reaches the running averages; apply "
                            "the batches in one pass (concatenate them) or chain the passes (feed this "
                            "pass's updates into the next one's variables)")
                # ... unless the step only hands them to its callers: then judge the callers
                passed = [returned[id(call)] for call, dropped in applies if not dropped]
                if all(positions for _, positions in passed) and len({id(step) for step, _ in passed}) == 1:
                    step = passed[0][0]
                    positions = sorted({p for _, ps in passed for p in ps})
                    yield from self._returned_stats_dropped(module, project, step, positions, results_used=True,
                                                            applies=[call for call, dropped in applies if not dropped],
                                                            flags=flags)
                continue
            for call, _ in applies:
                reason = self._lost_write_in_step(module, project, call)
                yield self.finding(module, call, "the batch_stats returned by apply(..., mutable=['batch_stats']) "
                                   + (f"are lost: {reason}" if reason else
                                      "are dropped: BatchNorm statistics never update; write them back "
                                      "(e.g. state.apply_gradients(..., batch_stats=updates['batch_stats']))"))

    @staticmethod
    def _lost_write_in_step(module: Module, project: Project, call: ast.Call) -> Optional[str]:
        """The one way the step of ``call`` (or a function of the module using it: the step that
        differentiates a module-level loss function) writes statistics where nothing keeps them."""
        outer = _outermost_function(module, call)
        if outer is None:
            return None
        steps = [outer] + [f.node for f in module.functions if f.node is not outer and any(
            isinstance(n, ast.Name) and n.id == outer.name for n in astwalk.walk(f.node))]
        reasons = {r for step in steps for n in astwalk.walk(step)
                   if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
                   for r in [_lost_write(module, project, step, n)] if r}
        if not reasons:
            dead = {name for step in steps for n in astwalk.walk(step)
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and _as_batch_stats(module, n)
                    for name in [_dead_store(module, step, n)] if name}
            if len(dead) == 1:
                name = dead.pop()
                return (f"they are written into `{name}`, which nothing reads afterwards (the step goes on from the "
                        "state it was given, e.g. `state.apply_gradients(...)`, which keeps that state's old "
                        f"batch_stats): BatchNorm statistics never update; continue the step from `{name}` "
                        "(or return it)")
        return reasons.pop() if len(reasons) == 1 else None

    @staticmethod
    def _in_training(module: Module, project: Project, fn: FuncNode) -> bool:
        """Does ``fn`` compute gradients/updates, get differentiated, or get called by a function that
        does (``loss_fn = lambda p: mse_loss(p, model, batch)`` inside a train step)?"""
        if _is_training_function(fn) or fn.name in _differentiated_names(module):
            return True
        for site in project.call_sites(fn.name):
            caller = _outermost_function(site.module, site.node)
            if caller is not None and caller is not fn and _is_training_function(caller):
                return True
        return False

    def _dropped(self, module: Module, project: Project, call: ast.Call, fn: FuncNode, outer: FuncNode) -> bool:
        parent = module.parent(call)
        if _is_index_zero(module, call) or isinstance(parent, ast.Expr):
            return True
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1):
            return False
        t = parent.targets[0]
        if isinstance(t, ast.Name):
            loads = _loads(fn, t.id, parent)
            unpacked = _unpacking_of_result(module, t.id, loads)
            if unpacked is None:
                return bool(loads) and all(_is_index_zero(module, load) for load in loads)
            parent, t = unpacked, unpacked.targets[0]
        if not (isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) == 2 and isinstance(t.elts[1], ast.Name)):
            return False
        updates = t.elts[1].id
        if updates == "_":
            return True
        # read somewhere other than a `return` of a differentiated loss function: kept
        reads = [r for r in _loads(fn, updates, parent) if _lost_write(module, project, fn, r) is None
                 and _dead_store(module, fn, r) is None]
        returned = [r for r in reads if any(isinstance(a, ast.Return) for a in module.ancestors_until(r, fn))]
        if any(r not in returned for r in reads):
            return False
        if not reads:
            return True
        if fn is not outer:
            return self._aux_ignored(module, project, fn, outer, returned)

        # a module-level loss function (or a method): look at the steps that differentiate it, or a
        # wrapper of it (`def loss_fn(p): return self.calculate_loss(p, ...)`)
        def differentiates(step: FuncNode) -> bool:
            names: Optional[set[str]] = None
            for n in astwalk.walk(step):
                if isinstance(n, ast.Call) and n.args and isinstance(n.args[0], ast.Name) \
                        and (n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", None)) in GRAD_NAMES:
                    if names is None:
                        names = {fn.name} | _loss_wrappers(step, fn.name)
                    if n.args[0].id in names:
                        return True
            return False
        steps = [f.node for f in module.functions if f.node is not fn and differentiates(f.node)]
        return any(self._aux_ignored(module, project, fn, step, returned) for step in steps)

    def _aux_ignored(self, module: Module, project: Project, loss_fn: FuncNode, outer: FuncNode,
                     returned: list[ast.Name]) -> bool:
        """The loss function returns the statistics as aux output; does the step read that output?"""
        target = self._aux_target(module, loss_fn, outer, returned)
        return target is not None and not _name_used(module, outer, target[0].id, target[1], project)

    @staticmethod
    def _aux_target(module: Module, loss_fn: FuncNode, outer: FuncNode,
                    returned: list[ast.Name]) -> Optional[tuple[ast.Name, ast.Assign]]:
        """The loss function returns the statistics as aux output (``return loss, updates`` or
        ``updates["batch_stats"]``, maybe inside an aux tuple): the name the step unpacks that output
        into (``(loss, new_state), grads = grad_fn(...)``) and the unpacking assignment; None when
        the step unpacks it some other way."""
        ret = next((a for a in module.ancestors_until(returned[0], loss_fn) if isinstance(a, ast.Return)), None)
        if ret is None or not isinstance(ret.value, ast.Tuple) or len(ret.value.elts) != 2:
            return None
        aux = ret.value.elts[1]
        path: Optional[int] = None
        if isinstance(aux, ast.Tuple):
            path = next((i for i, e in enumerate(aux.elts) if _is_name_or_its_stats(e, returned[0].id)), None)
            if path is None:
                return None
        elif not _is_name_or_its_stats(aux, returned[0].id):
            return None
        loss_names = {loss_fn.name} | _loss_wrappers(outer, loss_fn.name)
        # find `(loss, aux), grads = <grad fn of loss_fn>(...)` in the outer step
        grad_fn_names = set(loss_names)
        for n in astwalk.walk(outer):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and n.value.args \
                    and isinstance(n.value.args[0], ast.Name) and n.value.args[0].id in loss_names:
                grad_fn_names |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        for n in astwalk.walk(outer):
            if not (isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and len(n.targets) == 1):
                continue
            f = n.value.func
            is_grad_call = (isinstance(f, ast.Name) and f.id in grad_fn_names - loss_names) or (
                isinstance(f, ast.Call) and f.args and isinstance(f.args[0], ast.Name) and f.args[0].id in loss_names)
            if not is_grad_call:
                continue
            t = n.targets[0]
            if not (isinstance(t, ast.Tuple) and len(t.elts) == 2):
                return None
            if isinstance(t.elts[0], ast.Name):  # `ret, grads = ...` then `loss, acc, new_state = ret[0], *ret[1]`
                found = _aux_of_result(module, outer, t.elts[0].id, n, len(aux.elts) if path is not None else None)
                if found is None:
                    return None
                aux_t, n = found
            elif isinstance(t.elts[0], ast.Tuple) and len(t.elts[0].elts) == 2:
                aux_t = t.elts[0].elts[1]
            else:
                return None
            if path is not None and isinstance(aux_t, ast.Tuple):
                if path >= len(aux_t.elts):
                    return None
                aux_t = aux_t.elts[path]
            return (aux_t, n) if isinstance(aux_t, ast.Name) else None
        return None

    def _returned_positions(self, module: Module, call: ast.Call, fn: FuncNode,
                            outer: FuncNode) -> list[tuple[int, int, str]]:
        """Where the step ``outer`` hands the apply's new statistics to its caller: (tuple size,
        index, expression) when the name holding them in the step (``updates`` of ``out, updates =
        apply(...)``, or the aux output of the differentiated loss function) is read only as an element
        of every returned tuple (``return loss, grads, new_batch_stats``); empty otherwise."""
        parent = module.parent(call)
        if not (isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Tuple)
                and len(parent.targets[0].elts) == 2 and isinstance(parent.targets[0].elts[1], ast.Name)):
            return []
        holder: ast.Name = parent.targets[0].elts[1]
        after: ast.AST = parent
        if fn is not outer:
            reads = _loads(fn, holder.id, parent)
            returned = [r for r in reads if any(isinstance(a, ast.Return) for a in module.ancestors_until(r, fn))]
            if not returned or len(returned) != len(reads):
                return []
            target = self._aux_target(module, fn, outer, returned)
            if target is None:
                return []
            holder, after = target
        elif outer.name in _differentiated_names(module) or not _is_training_function(outer):
            return []  # a loss function returning its aux output, not a step
        if holder.id == "_":
            return []
        reads = _loads(outer, holder.id, after)

        def is_stats(e: ast.expr) -> bool:
            return _is_name_or_its_stats(e, holder.id)

        def returned_element(read: ast.Name) -> bool:
            elt = module.parent(read) if isinstance(module.parent(read), ast.Subscript) else read
            tup = module.parent(elt)
            return is_stats(elt) and isinstance(tup, ast.Tuple) and isinstance(module.parent(tup), ast.Return)
        if not reads or not all(returned_element(r) for r in reads):
            return []
        return _returned_batch_stat_positions(module, outer, is_stats)

    def _nnx_merge_dropped(self, module: Module, project: Project) -> Iterable[Finding]:
        if not module.imports.imports_any("flax.nnx", "flax.experimental.nnx"):
            return
        if not any(project.calls_to(q) for q in NNX_BN):  # the project's calls, indexed by callee
            return
        for f in module.functions:
            if not self._plain_jitted(module, f.node) or not _is_training_function(f.node):
                continue
            merges = [n for n in astwalk.walk(f.node) if isinstance(n, ast.Call) and (module.imports.resolve(n.func) or "").endswith("nnx.merge")]
            if not merges:
                continue
            keeps = [n for n in astwalk.walk(f.node) if isinstance(n, ast.Call) and (module.imports.resolve(n.func) or "").rsplit(".", 1)[-1]
                     in ("split", "state", "update", "pure")]
            if keeps:
                yield from self._returned_stats_dropped(module, project, f.node)
                continue
            if _merged_models_hold_no_batch_stat(project, module, merges):
                continue  # the merged model's class is known and builds no BatchNorm: no statistics to lose
            yield self.finding(module, merges[0], "this jax.jit step merges an NNX model and trains it but never "
                               "splits its state back out: the BatchNorm statistics updated in the step are lost; "
                               "return nnx.state(model) (or use nnx.jit)")

    def _returned_stats_dropped(self, module: Module, project: Project, step: FuncNode,
                                positions: Optional[list[tuple[int, int, str]]] = None,
                                results_used: bool = False, applies: Optional[list[ast.Call]] = None,
                                flags: Optional[dict[str, set[bool]]] = None) -> Iterable[Finding]:
        """The step returns the new statistics (by default the split-out NNX BatchStat state) at
        ``positions`` of its result tuple; a caller unpacks that position into ``_`` (or a name it
        never reads) and so starts every step from the old statistics. With ``results_used``, only
        a caller that reads another of the step's results (a warm-up or compile call ignoring them
        all is not a training step)."""
        if positions is None:
            positions = _returned_batch_stat_positions(module, step)
        if not positions:
            return
        grads = _returned_grad_positions(module, step) if applies else set()
        for site in project.call_sites(step.name):
            if not isinstance(site.node.func, ast.Name) or kf.resolve_def(project, site.module, site.node.func) is not step:
                continue  # another script's function of the same name
            assign = site.module.parent(site.node)
            if not (isinstance(assign, ast.Assign) and assign.value is site.node and len(assign.targets) == 1
                    and isinstance(assign.targets[0], (ast.Tuple, ast.List))):
                continue
            elts = assign.targets[0].elts
            scope = site.module.scope_of(assign)
            owner = scope if scope is not None else site.module.tree
            read = {n.id for n in astwalk.walk(owner) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            for size, index, returned in positions:
                if len(elts) != size or not isinstance(elts[index], ast.Name):
                    continue
                target = elts[index].id
                if target != "_" and target in read:
                    continue
                if results_used and not any(isinstance(e, ast.Name) and e.id != "_" and e.id in read
                                            for i, e in enumerate(elts) if i != index):
                    continue
                if applies and ((grads and all(g < len(elts) and _dropped_at(elts, g, read) for g in grads))
                                or all(_apply_mode_at_site(module, project, step, a, flags, site) for a in applies)):
                    break  # an evaluation call (no gradient kept), or running averages: nothing to keep (BN404 judges it)
                yield self.finding(site.module, site.node, (
                    f"`{step.name}` returns the updated BatchNorm statistics (`{returned}`, result {index + 1} of "
                    f"{size}) but this call unpacks them into `{target}`{'' if target == '_' else ', never read'}: the next step and evaluation use the old "
                    f"statistics; keep them (e.g. `..., batch_stats = {step.name}(...)`)"))
                break

    @staticmethod
    def _plain_jitted(module: Module, fn: FuncNode) -> bool:
        for d in fn.decorator_list:
            target = d.func if isinstance(d, ast.Call) else d
            q = module.imports.resolve(target) or ""
            if q == "jax.jit":
                return True
            if q == "functools.partial" and isinstance(d, ast.Call) and d.args and module.imports.resolve(d.args[0]) == "jax.jit":
                return True
        return False


def _nnx_call(module: Module, node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Call) and (module.imports.resolve(node.func) or "") in (
        f"flax.nnx.{name}", f"flax.experimental.nnx.{name}")


def _merged_models_hold_no_batch_stat(project: Project, module: Module, merges: list[ast.Call]) -> bool:
    """Is the model every ``nnx.merge(graphdef, ...)`` of ``merges`` rebuilds surely free of
    BatchNorm state? The graphdef is followed to the ``nnx.split`` (or ``nnx.graphdef``) of a model
    built by a project class (``Cls(...)``, ``lib.Cls(...)``), also through project factory functions
    that return one, across modules; every such class (with its bases, the project classes and
    functions it uses, and the construction's arguments) must build no ``nnx.BatchNorm`` / hold no
    ``BatchStat``. False when some graphdef's origin cannot be resolved: then only the project-wide
    test applies."""
    for merge in merges:
        if not merge.args:
            return False
        origins = _nnx_model_origins(project, module, merge.args[0], merge, 0, graphdef=True)
        if not origins:
            return False
        seen: dict[int, bool] = {}
        if any(_may_build_batch_stat(project, m, node, seen, 0) for m, node in origins):
            return False
    return True


def _name_bindings_at(module: Module, name: str, at: ast.AST) -> Optional[list[tuple[ast.AST, Optional[int], Optional[FuncNode]]]]:
    """How ``name``, read at ``at``, is bound: the innermost enclosing function (or the module) that
    binds it or takes it as a parameter (``_scope_bindings``). A list of (value, index, scope):
    ``index`` None for ``name = value``, i for the i-th element of a tuple target ``a, b = value``; for
    a parameter of a module-level function the list holds one (function, None, None) entry. None when
    a binding is of another kind (a loop target, ``with ... as``, an import, a starred or nested
    target, a parameter also re-bound) or the name is bound nowhere."""
    owners: list = [a for a in module.ancestors(at) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    for owner in owners + [None]:
        found = _scope_bindings(module, owner, name)
        if not found:
            continue
        if any(kind == "param" for kind, _value, _path in found):
            # what every call of a module-level function passes
            return [(owner, None, None)] if len(found) == 1 and module.parent(owner) is module.tree else None
        out: list = []
        for kind, value, path in found:
            if kind != "assign" or len(path) > 1:
                return None
            out.append((value, path[0] if path else None, owner))
        return out
    return None


def _nnx_model_origins(project: Project, module: Module, expr: ast.expr, at: ast.AST, depth: int,
                       graphdef: bool = False) -> Optional[list[tuple[Module, ast.AST]]]:
    """The constructions (module, ``Cls(...)`` call) of the NNX model ``expr`` evaluates to (with
    ``graphdef``, whose graphdef it is), read at ``at``; None when some origin is unknown."""
    if depth > 12:
        return None
    if isinstance(expr, ast.Name):
        bound = _name_bindings_at(module, expr.id, expr if expr in module.parents else at)
        if not bound:
            return None
        out: list = []
        for value, index, scope in bound:
            if isinstance(value, (ast.FunctionDef, ast.AsyncFunctionDef)):  # a parameter: what every call passes
                sites = _calls_of(project, module, value)
                if not sites:
                    return None
                for site in sites:
                    arg, explicit = kf.argument_for(site.node, value, expr.id)
                    got = _nnx_model_origins(project, site.module, arg, site.node, depth + 1, graphdef) \
                        if explicit and arg is not None else None
                    if got is None:
                        return None
                    out += got
                continue
            if index is not None:
                # ``graphdef, state = nnx.split(model, ...)``: the graphdef is the first result
                if not (graphdef and index == 0 and isinstance(value, ast.Call) and _nnx_call(module, value, "split")
                        and value.args):
                    return None
                got = _nnx_model_origins(project, module, value.args[0], value, depth + 1)
            else:
                got = _nnx_model_origins(project, module, value, value, depth + 1, graphdef)
            if got is None:
                return None
            out += got
        return out
    if not isinstance(expr, ast.Call):
        return None
    if _nnx_call(module, expr, "merge"):
        return _nnx_model_origins(project, module, expr.args[0], expr, depth + 1, graphdef=True) \
            if expr.args and not graphdef else None
    if _nnx_call(module, expr, "graphdef"):
        return _nnx_model_origins(project, module, expr.args[0], expr, depth + 1) if graphdef and expr.args else None
    if graphdef:
        return None
    if _nnx_call(module, expr, "eval_shape") and expr.args and isinstance(expr.args[0], ast.Lambda):
        return _nnx_model_origins(project, module, expr.args[0].body, expr, depth + 1)
    where, found = _project_def_of(project, module, expr.func)
    if isinstance(found, ast.ClassDef):
        return [(where, found), (module, expr)]
    if isinstance(found, (ast.FunctionDef, ast.AsyncFunctionDef)):  # a factory: what every return gives
        returns = [r.value for r in astwalk.walk(found) if isinstance(r, ast.Return) and where.scope_of(r) is found]
        if not returns or any(r is None for r in returns):
            return None
        out = [(module, expr), (where, found)]  # the factory's arguments and body
        for r in returns:
            got = _nnx_model_origins(project, where, r, r, depth + 1)
            if got is None:
                return None
            out += got
        return out
    return None


def _project_def_of(project: Project, module: Module, func: ast.expr) -> tuple[Optional[Module], Optional[ast.AST]]:
    """The project class or function a callee names (``Cls``, ``lib.Cls``, ``pkg.mod.Cls``)."""
    where, found = kf.resolve_def_in(project, module, func)
    if found is not None:
        return where, found
    q = module.imports.resolve(func) or ""
    if "." in q:
        src, _, name = q.rpartition(".")
        source = project.module_named(src, module)
        if source is not None and source is not module:
            for n in source.tree.body:  # type: ignore[attr-defined]
                if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name:
                    return source, n
    return None, None


_NO_BN_LIBRARIES = {"flax", "jax", "jaxlib", "optax", "numpy", "scipy", "math", "functools", "typing", "dataclasses",
                     "einops", "chex", "collections", "itertools", "operator", "enum", "abc", "logging", "warnings",
                     "ml_collections", "absl", "re", "os", "sys", "inspect", "copy", "contextlib", "builtins"}


def _may_build_batch_stat(project: Project, module: Module, node: ast.AST, seen: dict[int, bool], depth: int) -> bool:
    """Can ``node`` (a class, a function, a construction call) build NNX BatchNorm state: a name that
    resolves to a BatchNorm (NNX, linen through a bridge) or mentions ``BatchStat``, or a project class
    or function it names (bases, sub-modules, factories, classes passed as arguments) that can?"""
    key = id(node)
    if key in seen:
        return seen[key]
    seen[key] = False  # a cycle adds nothing
    if depth > 8:
        seen[key] = True
        return True
    found = False
    for n in astwalk.walk(node):
        last = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and "BatchNorm" in n.value:
            found = True  # ``getattr(nnx, "BatchNorm")``
            break
        if not isinstance(n, (ast.Name, ast.Attribute)):
            continue
        if last in ("BatchStat", "BatchNorm"):
            found = True
            break
        q = module.imports.resolve(n) or ""
        if q.rsplit(".", 1)[-1] in ("BatchStat", "BatchNorm") or q in NNX_BN or q in LINEN_BN:
            found = True
            break
        if isinstance(n, ast.Attribute) and isinstance(module.parent(n), ast.Attribute):
            continue  # resolved at the outermost attribute
        where, d = _project_def_of(project, module, n)
        if d is not None and d is not node and _may_build_batch_stat(project, where, d, seen, depth + 1):
            found = True
            break
        if d is None and q and isinstance(module.parent(n), ast.Call) and module.parent(n).func is n \
                and q.split(".", 1)[0] not in _NO_BN_LIBRARIES:
            found = True  # a module of another library (or an unresolved project name): it may hold BatchNorm
            break
    seen[key] = found
    return found


def _param_only_state(module: Module, fn: FuncNode, expr: ast.expr, depth: int = 0) -> Optional[bool]:
    """Is the NNX state ``expr`` (followed through names bound in ``fn``) built only from
    ``nnx.state(model, nnx.Param)`` extracts (blended or not: ``jax.tree.map(..., t, s)``)? True when
    at least one such extract and no other state source (an unfiltered ``nnx.state``, a ``BatchStat``
    filter, ``nnx.split``) is found; False when another source is; None when none is found."""
    if depth > 3:
        return None
    found: Optional[bool] = None
    for n in astwalk.walk(expr):
        if isinstance(n, ast.Call) and (_nnx_call(module, n, "state") or _nnx_call(module, n, "split")):
            filters = n.args[1:]
            if not _nnx_call(module, n, "state") or not filters or not all(
                    (module.imports.resolve(f) or dotted(f) or "").rsplit(".", 1)[-1] == "Param" for f in filters):
                return False
            found = True
        elif isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in module.imports.aliases \
                and not (isinstance(module.parent(n), (ast.Attribute, ast.Call))
                         and getattr(module.parent(n), "value", getattr(module.parent(n), "func", None)) is n):
            bound = _bindings_in(fn, n.id)
            if bound is None:
                return False  # bound by unpacking or changed in place: unknown
            for v in bound:
                got = _param_only_state(module, fn, v, depth + 1)
                if got is False:
                    return False
                if got:
                    found = True
    return found


def _nnx_eval_copy(project: Project, module: Module, scope: Optional[FuncNode], name: str) -> Optional[str]:
    """The source of ``name`` when it is bound in ``scope`` only to a copy of an NNX model
    (``nnx.clone(model)``, ``copy.deepcopy(model)``) of a project class whose BatchNorm follows
    ``eval()``/``train()``, put in eval mode there (``name.eval()``) and never back in train mode."""
    owner = scope if scope is not None else module.tree
    bound = _bindings_in(owner, name)
    if not bound or not all(isinstance(v, ast.Call) and len(v.args) == 1 and isinstance(v.args[0], ast.Name)
                            and (_nnx_call(module, v, "clone") or (module.imports.resolve(v.func) or "") == "copy.deepcopy")
                            for v in bound):
        return None
    sources = {v.args[0].id for v in bound}
    if len(sources) != 1:
        return None
    source = sources.pop()
    classes = _bindings_in(owner, source)
    if not classes or not all(isinstance(v, ast.Call) and isinstance(v.func, ast.Name) for v in classes):
        return None
    for v in classes:
        found = _class_in_scope(project, module, v.func.id)
        if found is None or not _nnx_default_mode_bn(project, *found):
            return None
    modes = {n.func.attr for n in astwalk.walk(owner) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
             and isinstance(n.func.value, ast.Name) and n.func.value.id == name}
    if "eval" not in modes or modes & {"train", "set_attributes"}:
        return None
    return source


def _copies_batch_stats(module: Module, fn: FuncNode) -> bool:
    """Does ``fn`` mention ``BatchStat`` or update an NNX model with any state but params alone?"""
    for n in astwalk.walk(fn):
        if isinstance(n, (ast.Name, ast.Attribute)) and (n.id if isinstance(n, ast.Name) else n.attr) == "BatchStat":
            return True
        if _nnx_call(module, n, "update") and any(_param_only_state(module, fn, a) is not True for a in n.args[1:]):
            return True
    return False


def _is_batch_stat_filter(module: Module, expr: ast.expr) -> bool:
    return (module.imports.resolve(expr) or dotted(expr) or "").rsplit(".", 1)[-1] == "BatchStat"


def _batch_stat_state(module: Module, expr: ast.expr, fn: FuncNode) -> bool:
    """Is ``expr`` the BatchStat state of a model: ``nnx.state(model, nnx.BatchStat)``, or a name
    bound in ``fn`` to the BatchStat part of ``nnx.split(model, nnx.Param, nnx.BatchStat)``?"""
    if isinstance(expr, ast.Call):
        q = module.imports.resolve(expr.func) or ""
        return q.rsplit(".", 1)[-1] == "state" and "nnx" in q and len(expr.args) == 2 \
            and _is_batch_stat_filter(module, expr.args[1])
    if not isinstance(expr, ast.Name):
        return False
    bound = []
    for n in astwalk.walk(fn):
        if not isinstance(n, ast.Assign) or len(n.targets) != 1:
            continue
        t = n.targets[0]
        if isinstance(t, ast.Name) and t.id == expr.id:
            bound.append(_batch_stat_state(module, n.value, fn) if isinstance(n.value, ast.Call) else False)
        elif isinstance(t, ast.Tuple) and isinstance(n.value, ast.Call) and any(
                isinstance(e, ast.Name) and e.id == expr.id for e in t.elts):
            q = module.imports.resolve(n.value.func) or ""
            i = next(i for i, e in enumerate(t.elts) if isinstance(e, ast.Name) and e.id == expr.id)
            filters = n.value.args[1:]
            # split(model, f1, f2, ...) -> graphdef, state_f1, state_f2, ...
            bound.append(q.rsplit(".", 1)[-1] == "split" and "nnx" in q and 1 <= i <= len(filters)
                         and _is_batch_stat_filter(module, filters[i - 1]))
    return bool(bound) and all(bound)


def _copy_function(module: Module, f: ast.expr) -> bool:
    """``jnp.copy``, ``np.copy``, ``copy.copy`` / ``copy.deepcopy``, ``jnp.array``, or a lambda
    returning ``x.copy()`` / one of those applied to its argument: a function that copies an array."""
    if isinstance(f, ast.Lambda):
        body, args = f.body, [a.arg for a in f.args.args]
        if len(args) != 1 or not isinstance(body, ast.Call):
            return False
        if isinstance(body.func, ast.Attribute) and body.func.attr == "copy" and not body.args \
                and isinstance(body.func.value, ast.Name) and body.func.value.id == args[0]:
            return True
        return len(body.args) == 1 and isinstance(body.args[0], ast.Name) and body.args[0].id == args[0] \
            and _copy_function(module, body.func)
    q = module.imports.resolve(f) or dotted(f) or ""
    return q in ("jax.numpy.copy", "numpy.copy", "copy.copy", "copy.deepcopy", "jax.numpy.array", "numpy.array")


def _model_batch_stat_state(module: Module, fn: FuncNode, expr: ast.expr, model: str) -> bool:
    """``nnx.state(model, nnx.BatchStat)`` of the name ``model`` (also through a name bound only to it)."""
    if isinstance(expr, ast.Name):
        bound = _bindings_in(fn, expr.id)
        return bool(bound) and all(_model_batch_stat_state(module, fn, v, model) for v in bound)
    return isinstance(expr, ast.Call) and _batch_stat_state(module, expr, fn) \
        and isinstance(expr.args[0], ast.Name) and expr.args[0].id == model


def _copied_batch_stat_snapshot(module: Module, project: Project, fn: FuncNode, expr: ast.expr, model: str,
                                depth: int = 0) -> bool:
    """Is ``expr`` surely a copy of ``model``'s BatchStat state taken at that point:
    ``jax.tree.map(jnp.copy, nnx.state(model, nnx.BatchStat))``, ``copy.deepcopy(nnx.state(...))``, a
    name bound only to one, or a project function that returns one of its parameter? (An uncopied
    ``nnx.state`` holds live references in recent flax versions and copies in older ones: unknown.)"""
    if depth > 2:
        return False
    if isinstance(expr, ast.Name):
        bound = _bindings_in(fn, expr.id)
        return bool(bound) and all(_copied_batch_stat_snapshot(module, project, fn, v, model, depth + 1) for v in bound)
    if not isinstance(expr, ast.Call):
        return False
    q = module.imports.resolve(expr.func) or dotted(expr.func) or ""
    if q.rsplit(".", 1)[-1] in ("map", "tree_map") and "tree" in q and len(expr.args) == 2 \
            and _copy_function(module, expr.args[0]):
        return _model_batch_stat_state(module, fn, expr.args[1], model)
    if q == "copy.deepcopy" and len(expr.args) == 1:
        return _model_batch_stat_state(module, fn, expr.args[0], model)
    if not isinstance(expr.func, ast.Name):
        return False
    callee_module, callee = kf.resolve_def_in(project, module, expr.func)
    if callee_module is None or not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    params = [a.arg for a in callee.args.posonlyargs + callee.args.args + callee.args.kwonlyargs]
    given = [p for p in params if isinstance(kf.argument_for(expr, callee, p)[0], ast.Name)
             and kf.argument_for(expr, callee, p)[0].id == model]  # type: ignore[union-attr]
    returns = [r.value for r in kf._returns_of(callee)]
    return len(given) == 1 and bool(returns) and all(
        r is not None and _copied_batch_stat_snapshot(callee_module, project, callee, r, given[0], depth + 1)
        for r in returns)


def _uses_model_otherwise(module: Module, step: FuncNode, model: str, allowed: ast.Call) -> bool:
    """Does ``step`` run or hand on the NNX model ``model`` anywhere but in ``allowed`` (the call that
    runs the snapshot-and-restore function), an optimizer update of it (``optimizer.update(model,
    grads)``) or a state read (``nnx.state`` / ``nnx.split`` / ``nnx.graphdef``)?"""
    inside = {id(n) for n in astwalk.walk(allowed)}
    for n in astwalk.walk(step):
        if not isinstance(n, ast.Call) or id(n) in inside:
            continue
        f = n.func
        if isinstance(f, ast.Name) and f.id == model or isinstance(f, ast.Attribute) \
                and isinstance(f.value, ast.Name) and f.value.id == model and f.attr not in ("train", "eval"):
            return True
        if not any(isinstance(a, ast.Name) and a.id == model for a in [*n.args, *(k.value for k in n.keywords)]):
            continue
        if isinstance(f, ast.Attribute) and f.attr == "update" and not _nnx_call(module, n, "update"):
            continue  # optimizer.update(model, grads): moves the params only
        if any(_nnx_call(module, n, k) for k in ("state", "split", "graphdef")):
            continue
        return True
    return False


def _whole_init_variables(module: Module, project: Project, expr: ast.expr) -> bool:
    """Is ``expr`` surely the whole ``model.init(...)`` result (a dict of collections), not its
    ``["params"]``: the call itself (also wrapped in ``freeze`` / ``unfreeze``) or a name only ever
    bound to it?"""
    if isinstance(expr, ast.Call) and _callee(expr) in ("freeze", "unfreeze") and len(expr.args) == 1:
        expr = expr.args[0]
    if _is_init_call(expr):
        return True
    if not isinstance(expr, ast.Name):
        return False
    return _init_only(module.scope_of(expr) or module.tree, expr.id) or _init_variables(module, project, expr, 0)


def _state_create(call: ast.Call) -> bool:
    """``TrainState.create(apply_fn=..., params=..., tx=...)`` (keyword-only, ``tx`` required)."""
    return _callee(call) == "create" and kf.kwarg(call, "params") is not None and kf.kwarg(call, "tx") is not None


def _params_rewritten(project: Project, program: set[int]) -> bool:
    """Can the program write a state's params other than through the optimizer: a ``params=`` keyword
    (``replace``, ``create``, a constructor) other than a create with the whole init variables, a
    ``**kwargs`` splat, a ``["batch_stats"]`` store, ``.params = ...``, a dict ``.update(x)`` or ``|=``?"""
    for m in project.modules:
        if id(m) not in program:
            continue
        for n in astwalk.walk(m.tree):
            if isinstance(n, ast.Call):
                params = kf.kwarg(n, "params")
                if params is not None and not (_state_create(n) and _whole_init_variables(m, project, params)):
                    return True
                if kf.has_kwargs_splat(n) and _callee(n) in ("replace", "create", "apply_gradients"):
                    return True
                if _callee(n) == "update" and len(n.args) == 1 and not n.keywords:
                    return True
            elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) and isinstance(n.slice, ast.Constant) \
                    and n.slice.value == "batch_stats":
                return True
            elif isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and n.attr == "params":
                return True
            elif isinstance(n, ast.AugAssign) and isinstance(n.op, ast.BitOr):
                return True
    return False


def _previous_state_roots(fn: FuncNode, params: ast.expr) -> list[str]:
    """Names whose ``.params`` (or ``["params"]``) ``params`` takes, directly or through names bound in
    ``fn``, and whose batch_stats ``fn`` never reads."""
    values = [params]
    if isinstance(params, ast.Name):
        values += _bindings_in(fn, params.id) or []
    roots = []
    for v in values:
        for n in astwalk.walk(v):
            if isinstance(n, ast.Attribute) and n.attr == "params" and isinstance(n.value, ast.Name):
                roots.append(n.value.id)
    return [r for r in dict.fromkeys(roots) if not any(
        (isinstance(n, ast.Attribute) and n.attr == "batch_stats"
         or isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "batch_stats")
        and isinstance(n.value, ast.Name) and n.value.id == r for n in astwalk.walk(fn))]


def _loop_updating_stats(module: Module, project: Project, owner: ast.AST, site: ast.Call, name: str) -> Optional[int]:
    """The line of the innermost loop around ``site`` (within ``owner``) when that loop also runs a call
    that can update BatchNorm statistics and never reads ``name``'s batch_stats (saving them across
    ``site``); None otherwise."""
    loop = next((a for a in module.ancestors_until(site, owner) if isinstance(a, (ast.For, ast.While, ast.AsyncFor))),
                None)
    if loop is None:
        return None
    inside = {id(n) for n in astwalk.walk(site)}
    if any((isinstance(n, ast.Attribute) and n.attr == "batch_stats"
            or isinstance(n, ast.Subscript) and isinstance(n.slice, ast.Constant) and n.slice.value == "batch_stats")
           and isinstance(n.value, ast.Name) and n.value.id == name and n.lineno < site.lineno for n in astwalk.walk(loop)):
        return None
    if any(isinstance(n, ast.Call) and id(n) not in inside and _reaches_stats_update(module, project, n, 0)
           and _reaches_training(module, project, n, 0) for n in astwalk.walk(loop)):
        return loop.lineno
    return None


def _carried_state_loop(module: Module, project: Project, fn: FuncNode, at: ast.Call, root: str) -> Optional[int]:
    """Is ``root`` (whose params the state built at ``at`` takes) the loop-carried train state:
    ``root = <at>`` in a loop that updates statistics, or a parameter of ``fn`` that some call
    ``N = fn(..., root=N)`` in such a loop passes? The loop's line, or None."""
    parent = module.parent(at)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name) \
            and parent.targets[0].id == root:
        return _loop_updating_stats(module, project, fn, at, root)
    if not kf._param_index(fn, root)[2] or _bindings_in(fn, root) != [] or module.parent(fn) is not module.tree:
        return None
    for site in _calls_of(project, module, fn):
        arg, explicit = kf.argument_for(site.node, fn, root)
        parent = site.module.parent(site.node)
        if not (explicit and isinstance(arg, ast.Name) and isinstance(parent, ast.Assign) and len(parent.targets) == 1
                and isinstance(parent.targets[0], ast.Name) and parent.targets[0].id == arg.id):
            continue
        owner = site.module.scope_of(site.node) or site.module.tree
        line = _loop_updating_stats(site.module, project, owner, site.node, arg.id)
        if line is not None:
            return line
    return None


def _returned_batch_stat_positions(module: Module, fn: FuncNode,
                                   is_stats: Optional[Callable[[ast.expr], bool]] = None) -> list[tuple[int, int, str]]:
    """(tuple size, index, expression) of the BatchStat state (or what ``is_stats`` accepts) in
    ``fn``'s returned tuples; empty unless every ``return`` is a tuple of the same size with the
    statistics at that index."""
    if is_stats is None:
        is_stats = lambda e: _batch_stat_state(module, e, fn)  # noqa: E731
    returns = [n for n in astwalk.walk(fn) if isinstance(n, ast.Return) and module.scope_of(n) is fn]
    if not returns or not all(isinstance(r.value, ast.Tuple) for r in returns):
        return []
    sizes = {len(r.value.elts) for r in returns}  # type: ignore[union-attr]
    if len(sizes) != 1:
        return []
    out = []
    for i in range(sizes.pop()):
        if all(is_stats(r.value.elts[i]) for r in returns):  # type: ignore[union-attr]
            out.append((len(returns[0].value.elts), i, ast.unparse(returns[0].value.elts[i])))  # type: ignore[union-attr]
    return out


def _loss_wrappers(outer: ast.AST, loss_name: str) -> set[str]:
    """Names in ``outer`` of functions that only call the loss function and return its result:
    ``loss_fn = lambda p: calculate_loss(p, ...)``, ``def loss_fn(p): return self.calculate_loss(p, ...)``."""
    def calls_loss(e: Optional[ast.expr]) -> bool:
        if not isinstance(e, ast.Call):
            return False
        f = e.func
        return (isinstance(f, ast.Name) and f.id == loss_name) or (
            isinstance(f, ast.Attribute) and f.attr == loss_name and isinstance(f.value, ast.Name) and f.value.id == "self")
    out: set[str] = set()
    for n in astwalk.walk(outer):
        if isinstance(n, ast.Assign) and isinstance(n.value, ast.Lambda) and calls_loss(n.value.body):
            out |= {t.id for t in n.targets if isinstance(t, ast.Name)}
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n is not outer and len(n.body) == 1 \
                and isinstance(n.body[0], ast.Return) and calls_loss(n.body[0].value):
            out.add(n.name)
    return out


def _aux_of_result(module: Module, outer: FuncNode, ret: str, after: ast.Assign,
                   aux_size: Optional[int]) -> Optional[tuple[ast.expr, ast.Assign]]:
    """``ret`` holds ``(loss, aux)`` of a ``has_aux`` gradient call: the target the single statement
    reading it unpacks the aux output into, and that statement. ``aux = ret[1]``, ``loss, aux =
    ret``, ``loss, aux = ret[0], ret[1]``, or with a tuple aux of ``aux_size`` elements spread by a
    star: ``loss, acc, new_state = ret[0], *ret[1]`` (then a tuple of the spread targets)."""
    loads = _loads(outer, ret, after)
    readers = {id(a): a for load in loads for a in module.ancestors(load) if isinstance(a, ast.Assign)}
    if len(readers) != 1:
        return None
    assign = next(iter(readers.values()))
    if len(assign.targets) != 1:
        return None
    t, v = assign.targets[0], assign.value

    def is_aux(e: ast.expr) -> bool:
        return isinstance(e, ast.Subscript) and isinstance(e.value, ast.Name) and e.value.id == ret \
            and isinstance(e.slice, ast.Constant) and e.slice.value == 1
    if is_aux(v):
        return t, assign
    if isinstance(v, ast.Name) and isinstance(t, ast.Tuple) and len(t.elts) == 2:
        return t.elts[1], assign
    if not (isinstance(v, ast.Tuple) and isinstance(t, ast.Tuple)):
        return None
    for i, e in enumerate(v.elts):
        if is_aux(e) and len(t.elts) == len(v.elts):
            return t.elts[i], assign
        if isinstance(e, ast.Starred) and is_aux(e.value) and aux_size is not None \
                and len(t.elts) == len(v.elts) - 1 + aux_size and all(not isinstance(x, ast.Starred) for x in v.elts[i + 1:]):
            return ast.Tuple(elts=t.elts[i:i + aux_size], ctx=ast.Store()), assign
    return None


def _unpacking_of_result(module: Module, name: str, loads: list[ast.Name]) -> Optional[ast.Assign]:
    """``outs = apply(...)`` read once, to unpack it: ``logits, updates = outs``, or ``logits, updates
    = outs if train else (outs, None)`` (the apply is mutable only in training). The unpacking."""
    if len(loads) != 1 and not (len(loads) == 2 and isinstance(module.parent(loads[0]), ast.IfExp)):
        return None
    value: ast.AST = loads[0]
    parent = module.parent(value)
    if isinstance(parent, ast.IfExp):
        other = parent.orelse if parent.body is value else parent.body
        if not (isinstance(other, ast.Tuple) and len(other.elts) == 2 and isinstance(other.elts[0], ast.Name)
                and other.elts[0].id == name and all(load in (value, other.elts[0]) for load in loads)):
            return None
        value, parent = parent, module.parent(parent)
    elif len(loads) != 1:
        return None
    if isinstance(parent, ast.Assign) and parent.value is value and len(parent.targets) == 1 \
            and isinstance(parent.targets[0], (ast.Tuple, ast.List)) and len(parent.targets[0].elts) == 2:
        return parent
    return None


def _is_name_or_its_stats(expr: ast.expr, name: str) -> bool:
    """``name`` itself or ``name["batch_stats"]`` (the statistics taken out of the updates dict)."""
    if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant) and expr.slice.value == "batch_stats":
        expr = expr.value
    return isinstance(expr, ast.Name) and expr.id == name


def _is_index_zero(module: Module, node: ast.AST) -> bool:
    parent = module.parent(node)
    return isinstance(parent, ast.Subscript) and isinstance(parent.slice, ast.Constant) and parent.slice.value == 0


# --------------------------------------------------------------------------------------------------
# BN403: batch statistics updated by an evaluation step

_EVAL_WORDS = frozenset({"eval", "evaluate", "evaluation", "val", "valid", "validate", "validation", "test",
                         "testing", "predict", "prediction", "inference", "infer", "probe", "probing"})
_TRAINING_WORDS = frozenset({"train", "training", "fit", "finetune", "learn", "optimize", "update", "adapt"})
# Re-estimating the statistics on purpose (SWA's bn_update, precise BN, AdaBN, test-time adaptation).
_RECALIBRATION = re.compile(r"update_?bn|bn_?update|recalib|recompute|re_?estimat|calibrat|adabn|adapt|precise|"
                            r"bn_?stat|batch_?stat|running_?stat|swa|tent", re.I)
_WRAPPERS = frozenset({"jit", "pmap", "vmap", "pjit", "shard_map", "partial"})
# Logging / preview hooks: evaluations of a held-out batch while training runs.
_HOOK_WORDS = frozenset({"log", "visualize", "visualise", "visualization", "plot", "preview", "render", "show",
                         "sample", "samples"})
# ... but ``log_prob`` / ``log_likelihood`` / ``show_loss`` compute something else.
_NOT_A_HOOK = frozenset({"prob", "probs", "probability", "likelihood", "density", "softmax", "sigmoid", "sum",
                         "exp", "det", "jacobian", "loss", "losses", "partition", "weights", "weight", "grad",
                         "grads", "gradient", "gradients", "batch", "batches", "data", "dataset", "noise", "rng",
                         "key", "mask", "indices", "index"})


def _is_hook_name(name: str) -> bool:
    words = set(identifier_words(name))
    return bool(words & _HOOK_WORDS) and not words & _NOT_A_HOOK


def _called_in_training(project: Project, module: Module, fn: FuncNode) -> bool:
    """Is ``fn`` called from a function that trains or is differentiated?"""
    for site in project.call_sites(fn.name):
        caller = _outermost_function(site.module, site.node)
        if caller is not None and caller is not fn and (
                _is_training_function(caller) or caller.name in _differentiated_names(site.module)
                or any(f.name in _differentiated_names(site.module) for f in site.module.ancestors(site.node)
                       if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef)))):
            return True
    return False


def _mutable_stats_applies(module: Module, project: Project) -> Iterator[CallSite]:
    """The ``apply`` calls of ``module`` with mutable batch_stats (``mutable=True`` included), in a
    non-test Flax module of a project that trains batch_stats and reads its running averages: the
    ground BN403 and BN404 both judge."""
    if not module.imports.imports_any("flax") or is_test_file(module.path):
        return
    if not trains_batch_stats(project) or not project_reads_running_averages(project):
        return
    if mentions_deliberate_batch_stats(re.split(r"[/\\.]", project.relative_path(module))):
        return
    for c in module.calls:
        if _is_apply(c) and c.scope is not None and (
                _mutable_has_batch_stats(module, project, c.node) or kf._literal(kf.kwarg(c.node, "mutable")) is True):
            yield c


@register
class BatchStatsUpdatedInEvaluation(Rule):
    code = "BN403"
    name = "batch-stats-updated-in-evaluation"
    framework = "flax"
    summary = "An evaluation step applies BatchNorm in training mode with mutable batch_stats and keeps the new statistics."
    triggers = ("batch_stats",)
    doc = RuleDoc(
        what="""
Finds `apply(variables, x, train=True, mutable=['batch_stats'])` — an apply whose call argument
puts every BatchNorm of the model in training mode (`use_running_average=not train` with
`train=True` passed by keyword, positionally, through `functools.partial`, or as the `__call__`
default) — inside a function named for evaluation (`eval_step`, `evaluate`, `validate`,
`test_step`, `predict`...) or for logging / previewing (`log_reconstructions`, `visualize`,
`plot_samples`, `preview`; not one a training step calls, nor `log_prob`-like names) that is not
differentiated and applies no update (no `jax.grad` /
`value_and_grad`, `apply_gradients`, `apply_updates`, `tx.update`), when the new statistics are
kept: the function returns them (`state.replace(batch_stats=updates['batch_stats'])`, the
updates themselves) and a caller stores the result back into what it passed
(`state, metrics = eval_step(state, batch)`, also through `jax.jit` / `jax.pmap` wrappers), or the
function writes them into an attribute (`self.state = ...`). When the apply sits in a helper that
training and evaluation share (`forward(state, params, x, train=True)` applying with `train=train`
and returning `(output, new statistics)`), every call of the helper is judged as the apply, its mode
being the argument that call passes or the helper's default; the helper may return a longer tuple
(`out, collections, state.replace(batch_stats=...)`) whose later elements carry them. BNs built with
`use_running_average=not self.is_mutable_collection("batch_stats")` (directly, through a local name,
or in an `nn.BatchNorm` subclass calling `super().__call__`) take their mode from the apply's
`mutable=`: `mutable=True` (asked for to read sown `intermediates`) or a list naming batch_stats runs
them in training mode, also through a helper's `mutable` parameter. Probes of the representation
(`embedding_probe`, `linear_probe`) count as evaluations.
""",
        why="""
In training mode BatchNorm normalizes with the batch's own statistics and returns new running
averages blended with them. An evaluation step that keeps those running averages folds every
validation batch into the statistics that the next epoch and the final model use (measured with
flax 0.12.8: the batch_stats mean moves during such an eval_step over validation batches): the
model drifts towards the validation data, its validation metrics are computed with batch
statistics (they depend on the batch composition), and the checkpoint carries statistics of data
it was never trained on.
""",
        example="""
@jax.jit
def eval_step(state, x, y):
    logits, updates = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats},
                                     x, train=True, mutable=["batch_stats"])
    return state.replace(batch_stats=updates["batch_stats"]), accuracy(logits, y)

state, acc = eval_step(state, x_val, y_val)
""",
        use_instead="""
@jax.jit
def eval_step(state, x, y):
    logits = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats}, x, train=False)
    return accuracy(logits, y)
""",
        not_flagged="""
- BN recalibration and test-time adaptation: functions whose names say so (`bn_update`,
  `update_bn`, `precise_bn`, `recalibrate`, `recompute`, `adabn`, `adapt`, `tent`, `swa`), or
  GAN / meta-learning code (`discriminator`, `maml`, `reptile`...);
- evaluation applies in inference mode (`train=False`, also passed to a shared helper), with
  `mutable=False` (or, for mutability-driven BNs, `mutable=["intermediates"]` / nothing mutable), or
  whose new statistics are discarded (`logits, _ = ...`, a result the caller does not store back);
- functions that train (differentiated, or computing gradients / optimizer updates), and
  applies whose mode is not decided by a call argument every BN reads the same way;
- unit tests (`test_*` functions in test files).
""",
        versions=FLAX_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        flags = None
        for c in _mutable_stats_applies(module, project):
            if flags is None:
                flags = step_bn_flags(project, module) or {}
            fn = self._evaluation_function(module, c.node, c.scope, project)
            if fn is None:
                yield from self._through_helper(module, project, c.node, c.scope, flags)
                continue
            mode = _bn_mode_of_apply(module, project, c.node, flags) if flags else None
            if mode is None or mode[0]:
                continue  # unknown, or running averages: no new statistics
            kept = self._kept_by(module, project, c.node, c.scope, fn)
            if kept is None:
                continue
            yield self.finding(module, c.node, (
                f"this apply runs BatchNorm in training mode ({mode[1]}) with mutable batch_stats inside `{fn.name}`, "
                f"an evaluation (no gradient, no update), and the new statistics are kept ({kept}): every evaluated "
                "batch is folded into the running averages the next epoch and the final model use; evaluate with "
                "the flag that sets use_running_average=True and without mutable batch_stats"))

    @staticmethod
    def _evaluation_function(module: Module, call: ast.AST, scope: FuncNode,
                             project: Optional[Project] = None) -> Optional[FuncNode]:
        """The function named for evaluation that holds ``call`` (it or one around it), when none of
        them trains, is differentiated or is named for training / recalibration. A logging or
        preview hook (``log_reconstructions``, ``visualize``, ``sample_images``) counts as an
        evaluation too, unless a training function calls it (then it is part of the training)."""
        chain = [scope] + [a for a in module.ancestors(scope) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]
        names = [f.name for f in chain] + [c.name for c in module.ancestors(call) if isinstance(c, ast.ClassDef)]
        if BatchStatsUpdatedInEvaluation._trains_by_name(names):
            return None
        differentiated = _differentiated_names(module)
        if any(f.name in differentiated or _is_training_function(f) or is_unit_test(module, f) for f in chain):
            return None
        named = next((f for f in chain if set(identifier_words(f.name)) & _EVAL_WORDS), None)
        if named is not None or project is None:
            return named
        hook = next((f for f in chain if _is_hook_name(f.name)), None)
        if hook is None or _called_in_training(project, module, hook):
            return None
        return hook

    @staticmethod
    def _trains_by_name(names: list[str]) -> bool:
        return any(set(identifier_words(n)) & _TRAINING_WORDS for n in names) \
            or any(_RECALIBRATION.search(n) for n in names) or mentions_deliberate_batch_stats(names)

    def _through_helper(self, module: Module, project: Project, call: ast.Call, helper: Optional[FuncNode],
                        flags: dict[str, set[bool]]) -> Iterable[Finding]:
        """The apply sits in a helper shared by training and evaluation (``forward(state, params, x,
        train=True)`` applying with ``train=train`` and returning ``(out, updates["batch_stats"])``):
        judge every call of the helper as the apply itself, its mode given by the argument the call
        passes (or the default), inside the caller."""
        if helper is None or len(flags) != 1 or module.scope_of(helper) is not None:
            return
        (param, negations), = flags.items()
        # BNs reading ``not self.is_mutable_collection("batch_stats")`` take their mode from ``mutable=``
        given = kf.kwarg(call, "mutable" if param == _MUTABILITY else param)
        if len(negations) != 1 or not isinstance(given, ast.Name) or not kf._param_index(helper, given.id)[2]:
            return
        if self._trains_by_name([helper.name]) or helper.name in _differentiated_names(module) \
                or _is_training_function(helper):
            return
        carriers = self._carriers(module, call, helper)
        positions = self._carrier_positions(module, helper, carriers)
        if positions is None:
            return  # not an apply look-alike: (output, new statistics) or (output, ..., new state)
        negated = next(iter(negations))
        for site in _calls_of(project, module, helper):
            caller = site.module.scope_of(site.node)
            if caller is None:
                continue
            arg, explicit = kf.argument_for(site.node, helper, given.id)
            if param == _MUTABILITY:
                trains = _mutable_trains(site.module if explicit else module, project, arg) if arg is not None else None
                if trains is None or trains is not negated:
                    continue  # unknown, or batch_stats immutable at this call: running averages
            else:
                vals = kf.constant_values(site.module if explicit else module, project, arg)
                if not vals or any(isinstance(v, str) or v is None for v in vals) \
                        or any(bool(v) is not negated for v in vals):
                    continue  # unknown, or running averages at this call
            fn = self._evaluation_function(site.module, site.node, caller, project)
            if fn is None:
                continue
            kept = self._kept_by(site.module, project, site.node, caller, fn, positions)
            if kept is None:
                continue
            how = f"{given.id}={ast.unparse(arg)}" + ("" if explicit else f", the default of `{helper.name}`")
            yield self.finding(site.module, site.node, (
                f"`{helper.name}` applies the model with mutable batch_stats ({module.line_ref(call.lineno)}) and this "
                f"call runs its BatchNorm in training mode ({how}) inside `{fn.name}`, an evaluation (no gradient, no "
                f"update), and the new statistics are kept ({kept}): every evaluated batch is folded into the running "
                f"averages the next epoch and the final model use; "
                + ("apply it with batch_stats immutable (its BatchNorm reads `not self.is_mutable_collection("
                   "'batch_stats')`): mutable=['intermediates'] for sown values" if param == _MUTABILITY
                   else "pass the flag that sets use_running_average=True")))

    @staticmethod
    def _carrier_positions(module: Module, helper: FuncNode, carriers: set[str]) -> Optional[frozenset]:
        """The tuple positions of ``helper``'s result that carry the new statistics, when every return
        is a tuple of the same length whose first element (the output) does not and some later one
        does: ``(out, updates["batch_stats"])``, ``(out, collections, state.replace(...))``."""
        returns = [r for r in astwalk.walk(helper) if isinstance(r, ast.Return) and module.scope_of(r) is helper]
        if not carriers or not returns:
            return None
        found: set = set()
        for r in returns:
            v = r.value
            if not isinstance(v, ast.Tuple) or len(v.elts) < 2 or len(v.elts) != len(returns[0].value.elts) \
                    or any(isinstance(e, ast.Starred) for e in v.elts) or _mentions_any(v.elts[0], carriers):
                return None
            here = frozenset(i for i, e in enumerate(v.elts) if i and _mentions_any(e, carriers))
            if not here:
                return None
            found.add(here)
        return found.pop() if len(found) == 1 else None

    def _kept_by(self, module: Module, project: Project, call: ast.Call, scope: FuncNode,
                 fn: FuncNode, positions: Optional[frozenset] = None) -> Optional[str]:
        """How the new statistics leave the evaluation: (a description) when ``fn`` returns them and a
        caller stores the result back into an argument it passed, or ``fn`` assigns them to an
        attribute; None when they are dropped or their fate is unknown. ``positions``: where the
        result of ``call`` (a helper's) holds them, by default the second of a pair."""
        carriers = self._carriers(module, call, scope, positions)
        if not carriers:
            return None
        for n in astwalk.walk(fn):
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) for t in n.targets) \
                    and _mentions_any(n.value, carriers):
                return f"stored into `{ast.unparse(n.targets[0])}`"
        returns = [r for r in astwalk.walk(fn) if isinstance(r, ast.Return) and r.value is not None
                   and module.scope_of(r) is fn]
        if scope is not fn or not any(_mentions_any(r.value, carriers) for r in returns):
            return None
        for site_module, site in _calls_of_step(project, module, fn):
            parent = site_module.parent(site)
            if not (isinstance(parent, ast.Assign) and parent.value is site and len(parent.targets) == 1):
                continue
            target = parent.targets[0]
            stored = {e.id for e in astwalk.walk(target) if isinstance(e, ast.Name)}
            passed = {a.id for a in site.args if isinstance(a, ast.Name)} | {
                k.value.id for k in site.keywords if isinstance(k.value, ast.Name)}
            if stored & passed:
                return f"`{ast.unparse(parent).strip()}` at {site_module.line_ref(site.lineno)}"
        return None

    @staticmethod
    def _carriers(module: Module, call: ast.Call, scope: FuncNode, positions: Optional[frozenset] = None) -> set[str]:
        """Names in ``scope`` holding the new statistics: the second target of ``out, updates =
        apply(...)`` (or the whole result; the targets at ``positions`` of a helper's longer tuple),
        and names assigned from expressions that read them
        (``state = state.replace(batch_stats=updates['batch_stats'])``)."""
        parent = module.parent(call)
        if not (isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1):
            return set()
        t = parent.targets[0]
        if positions is not None and positions != frozenset({1}):
            if not (isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) > max(positions)
                    and not any(isinstance(e, ast.Starred) for e in t.elts)):
                return set()
            names = {t.elts[i].id for i in positions if isinstance(t.elts[i], ast.Name)} - {"_"}
        elif isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) == 2 and isinstance(t.elts[1], ast.Name):
            names = {t.elts[1].id} - {"_"}
        elif isinstance(t, ast.Name):
            names = _second_of(scope, t.id)  # out = apply(...); logits, updates = out / out[1]
        else:
            return set()
        for _ in range(3):  # a few hops: updates -> new_stats -> state
            for n in astwalk.walk(scope):
                if isinstance(n, ast.Assign) and n is not parent and _mentions_any(n.value, names):
                    names |= {e.id for tgt in n.targets for e in astwalk.walk(tgt) if isinstance(e, ast.Name)}
        return names


def _second_of(scope: ast.AST, name: str) -> set[str]:
    """Names bound to the second element of the pair ``name``: ``a, b = name`` and ``b = name[1]``."""
    out: set[str] = set()
    for n in astwalk.walk(scope):
        if not (isinstance(n, ast.Assign) and len(n.targets) == 1):
            continue
        t, v = n.targets[0], n.value
        if isinstance(v, ast.Name) and v.id == name and isinstance(t, (ast.Tuple, ast.List)) and len(t.elts) == 2 \
                and isinstance(t.elts[1], ast.Name):
            out.add(t.elts[1].id)
        elif isinstance(v, ast.Subscript) and isinstance(v.value, ast.Name) and v.value.id == name \
                and isinstance(v.slice, ast.Constant) and v.slice.value == 1 and isinstance(t, ast.Name):
            out.add(t.id)
    return out - {"_"}


def _mentions_any(expr: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in astwalk.walk(expr))


def _calls_of_step(project: Project, module: Module, fn: FuncNode) -> list[tuple[Module, ast.Call]]:
    """Calls of ``fn`` by name in its program, and of the names it is wrapped into
    (``p_eval_step = jax.pmap(eval_step)``, ``jax.jit(eval_step)(state, batch)``)."""
    program = same_program(module, project)
    names = {fn.name}
    direct: list[tuple[Module, ast.Call]] = []
    for m in project.modules:
        if id(m) not in program or not m.mentions(fn.name):
            continue
        for c in m.calls:
            if c.name in _WRAPPERS and any(isinstance(a, ast.Name) and a.id == fn.name for a in c.node.args):
                parent = m.parent(c.node)
                if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], ast.Name):
                    names.add(parent.targets[0].id)
                elif isinstance(parent, ast.Call) and parent.func is c.node:
                    direct.append((m, parent))
    out = list(direct)
    for name in names:
        out += [(c.module, c.node) for c in project.call_sites(name) if id(c.module) in program
                and isinstance(c.node.func, (ast.Name, ast.Attribute))]
    return out


# --------------------------------------------------------------------------------------------------
# BN404: an evaluation computed with batch statistics (the new statistics dropped)

# Words that name held-out data or its evaluation at a call site (``val_batch``, ``test_ds``, ``val_state``).
_HELD_OUT_WORDS = frozenset({"eval", "evaluate", "evaluation", "val", "valid", "validate", "validation", "test",
                             "testing", "holdout"})
# Repeated stochastic forward passes on purpose: Monte-Carlo dropout, sampling, ensembles.
_SAMPLING_WORDS = frozenset({"mc", "monte", "carlo", "uncertainty", "sample", "samples", "sampling", "sampler",
                             "stochastic", "bayes", "bayesian", "ensemble", "posterior", "dropout", "generate",
                             "generation", "mcd"})


def _asserting_test(fn: FuncNode) -> bool:
    """A ``test*`` function that asserts (a shape or smoke test run by pytest, whatever the file is
    called): its forward pass checks the code, it reports no metric."""
    return fn.name.lower().startswith("test") and any(isinstance(n, ast.Assert) for n in astwalk.walk(fn))


def _is_zero_index(module: Module, node: ast.AST) -> bool:
    parent = module.parent(node)
    return isinstance(parent, ast.Subscript) and parent.value is node and isinstance(parent.slice, ast.Constant) \
        and parent.slice.value == 0


def _statistics_dropped(module: Module, call: ast.Call, scope: FuncNode) -> bool:
    """Are the new statistics of ``apply(..., mutable=['batch_stats'])`` certainly thrown away in
    ``scope``: ``apply(...)[0]``, ``out, _ = apply(...)``, ``out, updates = apply(...)`` with
    ``updates`` never read, ``res = apply(...)`` read only as ``res[0]``?"""
    if _is_zero_index(module, call):
        return True
    parent = module.parent(call)
    if not (isinstance(parent, ast.Assign) and parent.value is call and len(parent.targets) == 1):
        return False
    target = parent.targets[0]
    if isinstance(target, (ast.Tuple, ast.List)):
        return len(target.elts) == 2 and isinstance(target.elts[1], ast.Name) \
            and not _name_used(module, scope, target.elts[1].id, parent)
    if isinstance(target, ast.Name):
        loads = _loads(scope, target.id, parent)
        return bool(loads) and all(_is_zero_index(module, load) for load in loads)
    return False


def _step_region(module: Module, node: ast.AST) -> list[ast.stmt]:
    """The statements run together with ``node``: the body of its innermost loop, else of its
    function (or module)."""
    for a in module.ancestors(node):
        if isinstance(a, (ast.For, ast.AsyncFor, ast.While)):
            return a.body
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Module)):
            return a.body
    return module.tree.body


def _walk_step(stmts: list[ast.stmt]) -> Iterable[ast.AST]:
    """Nodes of ``stmts`` without descending into nested loops or definitions (another step)."""
    other_step = (ast.For, ast.AsyncFor, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    todo: list[ast.AST] = [s for s in stmts if not isinstance(s, other_step)]
    while todo:
        n = todo.pop()
        yield n
        todo += [child for child in ast.iter_child_nodes(n) if not isinstance(child, other_step)]


def _site_in_training(module: Module, site: ast.Call) -> bool:
    """Does the call ``site`` run as part of a training step: inside a differentiated function, or
    next to a gradient / optimizer update in the same loop body (or function body, outside its
    loops)? A call next to ``train_step(...)`` / ``train_one_epoch(...)`` evaluates between steps
    or epochs: not part of one."""
    differentiated = _differentiated_names(module)
    if any(isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)) and a.name in differentiated
           for a in module.ancestors(site)):
        return True
    scope = module.scope_of(site) or module.tree
    for n in _walk_step(_step_region(module, site)):
        if not isinstance(n, ast.Call) or n is site:
            continue
        f = n.func
        name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None
        if name in GRAD_NAMES or (name in UPDATE_NAMES and not _dict_update(n, scope)):
            return True
    return False


def _held_out_words(module: Module, site: ast.Call) -> set[str]:
    """Words that say what data a call evaluates: the names it is given (``val_batch``,
    ``state=val_state``), what its result is stored in, the loops around it (``for batch in
    val_loader``) and the functions it sits in (``run_validation``)."""
    exprs: list[ast.AST] = list(site.args) + [k.value for k in site.keywords]
    parent = module.parent(site)
    if isinstance(parent, ast.Assign):
        exprs += parent.targets
    names: list[str] = []
    for a in module.ancestors(site):
        if isinstance(a, (ast.For, ast.AsyncFor)):
            exprs += [a.target, a.iter]
        elif isinstance(a, ast.comprehension):
            exprs += [a.target, a.iter]
        elif isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(a.name)
    for e in exprs:
        for n in astwalk.walk(e):
            if isinstance(n, ast.Name):
                names.append(n.id)
            elif isinstance(n, ast.Attribute):
                names.append(n.attr)
    return {w for n in names for w in identifier_words(n)} & _HELD_OUT_WORDS


# Class names of inference wrappers (``Predictor``, ``Evaluator``, ``InferenceModel``): a ``test`` class is
# more often a unit test's than an evaluation's.
_INFERENCE_CLASS_WORDS = (_EVAL_WORDS - {"test", "testing"}) | {"evaluator", "validator", "predictor", "inferencer",
                                                                 "inferer", "serving", "serve"}


def _inference_wrapper(module: Module, fn: FuncNode) -> Optional[str]:
    """Why ``fn``, a method, runs a finished model only: its class is named for inference
    (``Predictor``, ``Evaluator``) or restores a checkpoint (``from_bytes``, ``restore_checkpoint``,
    an orbax ``restore``) — and no method of the class is named for training / recalibration,
    computes a gradient or applies an optimizer update. None otherwise."""
    cls = module.parent(fn)
    if not isinstance(cls, ast.ClassDef):
        return None
    methods = [f for f in astwalk.walk(cls) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if BatchStatsUpdatedInEvaluation._trains_by_name([cls.name] + [f.name for f in methods]) \
            or any(_is_training_function(f) for f in methods):
        return None
    if set(identifier_words(cls.name)) & _INFERENCE_CLASS_WORDS:
        return f"a method of `{cls.name}`, a class named for evaluation or inference"
    restore = next((n for n in astwalk.walk(cls) if isinstance(n, ast.Call) and _restore_call(n)), None)
    if restore is not None:
        return (f"a method of `{cls.name}`, which restores a trained checkpoint "
                f"({module.line_ref(restore.lineno)}) and never trains")
    return None


def _running_average_apply(project: Project, module: Module, flags: dict[str, set[bool]]) -> Optional[str]:
    """Where the program of ``module`` (the modules its imports connect it to) runs a model with its
    running averages (``model.apply(variables, x, train=False)``, ``partial(model.apply,
    train=False)``), else None: when nothing ever reads the running averages, batch statistics at
    evaluation are how the model is used, not a slip. Another script of the same folder says
    nothing about this one."""
    (param, negations), = flags.items()
    program = project.import_component(module)

    def compute(p: Project) -> Optional[str]:
        for c in p.all_calls():
            if id(c.module) not in program:
                continue
            f = c.node.func
            if isinstance(f, ast.Attribute) and f.attr in ("apply", "apply_fn"):
                mode = _bn_mode_of_apply(c.module, p, c.node, flags)
                if mode is not None and mode[0]:
                    return f"{ast.unparse(f)}(..., {mode[1]}) in {p.relative_path(c.module)}, {c.module.line_ref(c.node.lineno)}"
            elif c.qualname == "functools.partial" and c.node.args and isinstance(c.node.args[0], ast.Attribute) \
                    and c.node.args[0].attr in ("apply", "apply_fn"):
                given = kf.kwarg(c.node, param)
                vals = kf.constant_values(c.module, p, given) if given is not None else None
                if vals and all(isinstance(v, bool) and v is not next(iter(negations)) for v in vals):
                    return f"{ast.unparse(c.node)} in {p.relative_path(c.module)}, {c.module.line_ref(c.node.lineno)}"
        return None
    return project.fact(("flax.running_average_apply", param, tuple(sorted(negations)), program), compute)


def _returned_grad_positions(module: Module, step: FuncNode) -> set[int]:
    """Indexes of ``step``'s returned tuple holding gradients it computed but does not apply: names
    bound from a ``jax.value_and_grad`` / ``jax.grad`` call (``(loss, aux), grads = grad_fn(params)``,
    ``grads = jax.grad(loss_fn)(params)``); empty when the step applies an update itself."""
    kinds: dict[str, str] = {}
    calls: list[tuple[ast.Assign, str, bool]] = []
    for n in astwalk.walk(step):
        if not (isinstance(n, ast.Assign) and isinstance(n.value, ast.Call) and len(n.targets) == 1):
            continue
        f = n.value.func
        q = module.imports.resolve(f) or ""
        if q in ("jax.grad", "jax.value_and_grad") and isinstance(n.targets[0], ast.Name):
            kinds[n.targets[0].id] = q
            continue
        if isinstance(f, ast.Call) and (module.imports.resolve(f.func) or "") in ("jax.grad", "jax.value_and_grad"):
            calls.append((n, module.imports.resolve(f.func) or "", _has_aux(f)))
        elif isinstance(f, ast.Name) and f.id in kinds:
            calls.append((n, kinds[f.id], True))  # aux or not: the bound grad function decides (checked below)
        elif isinstance(f, ast.Attribute) and f.attr in ("apply_gradients", "update"):
            return set()
    names: set[str] = set()
    for assign, kind, _aux in calls:
        t = assign.targets[0]
        if kind == "jax.value_and_grad" and isinstance(t, ast.Tuple) and len(t.elts) == 2 \
                and isinstance(t.elts[1], ast.Name):
            names.add(t.elts[1].id)
        elif kind == "jax.grad" and isinstance(t, ast.Name):
            names.add(t.id)
        elif kind == "jax.grad" and isinstance(t, ast.Tuple) and len(t.elts) == 2 and isinstance(t.elts[0], ast.Name):
            names.add(t.elts[0].id)
    if not names:
        return set()
    return {i for _, i, _ in _returned_batch_stat_positions(
        module, step, lambda e: isinstance(e, ast.Name) and e.id in names)}


def _dropped_at(elts: list, index: int, read: set[str]) -> bool:
    e = elts[index]
    return isinstance(e, ast.Name) and (e.id == "_" or e.id not in read)


def _apply_mode_at_site(module: Module, project: Project, step: FuncNode, apply: ast.Call,
                        flags: Optional[dict[str, set[bool]]], site) -> Optional[bool]:
    """Running averages? for every BN ``apply`` (inside ``step``) reaches when ``step`` is called at
    ``site``: the apply's own flag (``train=True``), or the step's parameter it forwards
    (``train=train`` with ``apply_model(..., train=False)`` at the site, or the parameter's default);
    None when unknown."""
    if not flags or len(flags) != 1:
        return None
    (param, negations), = flags.items()
    given = kf.kwarg(apply, param) if param != _MUTABILITY and len(negations) == 1 else None
    if isinstance(given, ast.Name) and any(a.arg == given.id for a in step.args.args + step.args.kwonlyargs):
        inner = [a for a in module.ancestors_until(apply, step) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
        if any(isinstance(n, ast.Name) and n.id == given.id and isinstance(n.ctx, ast.Store) for n in astwalk.walk(step)) \
                or any(a.arg == given.id for f in inner for a in f.args.args + f.args.kwonlyargs):
            return None  # rebound or shadowed
        value, _ = kf.argument_for(site.node, step, given.id)
        if value is None:
            return None
        vals = kf.constant_values(site.module if value in site.node.args or any(k.value is value for k in site.node.keywords)
                                  else module, project, value)
        if not vals or any(not isinstance(v, (bool, int)) for v in vals):
            return None
        negated = next(iter(negations))
        modes = {bool(v) is not negated for v in vals}
        return modes.pop() if len(modes) == 1 else None
    got = _bn_mode_of_apply(module, project, apply, flags)
    return got[0] if got is not None else None


@register
class BatchStatisticsInEvaluation(Rule):
    code = "BN404"
    name = "batch-statistics-in-evaluation"
    framework = "flax"
    severity = "warning"
    summary = ("An evaluation applies BatchNorm in training mode (train=True, mutable batch_stats) and drops the "
               "new statistics: its metrics are computed with batch statistics, not the running averages.")
    triggers = ("batch_stats",)
    doc = RuleDoc(
        what="""
Finds `apply(variables, x, train=True, mutable=['batch_stats'])` — an apply whose call argument
puts every BatchNorm of the model in training mode (`use_running_average=not train` with
`train=True` by keyword, positionally, through `functools.partial` / a `TrainState.apply_fn`, or as
the `__call__` default) — whose new statistics are thrown away (`logits, _ = ...`, `preds, updates
= ...` with `updates` never read, `apply(...)[0]`), inside an evaluation: a function that computes no
gradient and applies no update, is neither differentiated nor called from a training step, and
is named for evaluation (`eval_step`, `validate`, `test_step`, `predict`...), is a method of an
inference wrapper (a class named for evaluation or inference — `Predictor`, `AccuracyEvaluator`,
`InferenceModel` — or one that restores a checkpoint with `from_bytes` / `restore_checkpoint` /
an orbax `restore`, when no method of the class is named for training, takes a gradient or applies
an optimizer update), or is called on held-out data (`compute_metrics(state=val_state,
batch=val_batch)`, a call inside `for batch in val_loader`), also through `jax.jit` / `jax.pmap`
wrappers — in a project that elsewhere runs the model with its running averages (`apply(...,
train=False)`), i.e. whose deployed model reads them.
For BNs built with `use_running_average=not self.is_mutable_collection("batch_stats")` the
`mutable=` argument decides the mode (`mutable=True` or a list naming batch_stats: training).
Also a gradient step that returns its gradients and new statistics (`return grads, batch_stats,
loss, acc`), kept by its training calls, and called again on held-out data by a call that throws
both away (`_, _, test_loss, test_acc = apply_model(state, test_x, test_y)`, the flax mnist layout)
while the step's BNs run in training mode at that call (`train=True` hard-coded, or the step's own
flag passed as true there).
BN403 covers the evaluation that keeps the new statistics.
""",
        why="""
In training mode BatchNorm normalizes each batch with that batch's own mean and variance. The
stored running averages are untouched when the returned statistics are dropped, but every
validation metric is computed by a different model than the one used at inference: it depends on
the batch composition and size (a single example, or a batch of one class, is normalized away),
it hides a shift between training and validation data that the running averages would expose,
and early stopping / model selection read it (measured with flax 0.12.8 on a shifted validation
batch: loss 518.6 with train=True against 601.1 with the running averages).
""",
        example="""
@jax.jit
def compute_metrics(state, batch):
    preds, updates = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats},
                                    batch["x"], train=True, mutable=["batch_stats"])
    return loss_fn(preds, batch["y"])

for val_batch in val_loader:
    val_loss = compute_metrics(state, val_batch)
""",
        use_instead="""
@jax.jit
def compute_metrics(state, batch):
    preds = state.apply_fn({"params": state.params, "batch_stats": state.batch_stats},
                           batch["x"], train=False)
    return loss_fn(preds, batch["y"])
""",
        not_flagged="""
- functions that train (differentiated, computing gradients / optimizer updates, or called in the
  loop body of a training step — training metrics of the step's own batch);
- a shared gradient step called on held-out data with its static flag in inference mode
  (`apply_model(state, test_x, test_y, train=False)`): running averages;
- applies whose new statistics are used (BN403 when an evaluation keeps them; test-time
  adaptation and recalibration: `adapt`, `tent`, `bn_update`, `precise_bn`, `recalibrate`...);
- Monte-Carlo dropout, sampling and ensembles: applies given `rngs=`, repeated in a
  `range(...)` loop, or in functions named so (`mc_predict`, `sample`, `uncertainty`...);
- GAN / meta-learning / test-time-adaptation programs, and projects that never apply the model
  with its running averages (batch statistics at test time by design), or whose BatchNorms are all
  built with `use_running_average=False`;
- functions that merely take a held-out name without being named for evaluation when one of
  their calls runs in a training step; logging / preview hooks (`visualize`, `sample_images`);
- methods of a class that restores a checkpoint and also trains (a resuming / fine-tuning object
  with a `value_and_grad` step);
- applies whose mode is not decided by one call argument every BN reads the same way; unit tests.
""",
        versions=FLAX_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        flags = None
        for c in _mutable_stats_applies(module, project):
            if kf.kwarg(c.node, "rngs") is not None:
                continue
            if not _statistics_dropped(module, c.node, c.scope) or self._repeated(module, c.node, c.scope):
                continue
            if flags is None:
                flags = step_bn_flags(project, module) or {}
            mode = _bn_mode_of_apply(module, project, c.node, flags) if flags else None
            if mode is None or mode[0]:
                continue  # unknown, or running averages
            evaluation = self._evaluation(module, project, c.node, c.scope)
            if evaluation is None or deliberate_in_program(module, project):
                continue
            inference = _running_average_apply(project, module, flags)
            if inference is None:
                continue
            fn, how = evaluation
            yield self.finding(module, c.node, (
                f"this apply runs BatchNorm in training mode ({mode[1]}) inside `{fn.name}`, an evaluation ({how}), "
                f"and drops the new statistics: every metric it computes normalizes each batch with that batch's own "
                f"statistics, not with the running averages the model uses at inference ({inference}); evaluate "
                "with the flag that sets use_running_average=True and without mutable batch_stats"))
        yield from self._shared_step(module, project)

    def _shared_step(self, module: Module, project: Project) -> Iterable[Finding]:
        """A gradient step that returns the new statistics and the gradients (``return grads,
        batch_stats, loss, ...``), kept by its training calls, and also called on held-out data by a
        call that throws both away (``_, _, test_loss, acc = apply_model(state, test_x, test_y)``):
        that call is an evaluation, and with the BNs in training mode at that call its metrics use
        the held-out batch's own statistics."""
        flags: Optional[dict[str, set[bool]]] = None
        done: set[int] = set()
        for c in _mutable_stats_applies(module, project):
            outer = _outermost_function(module, c.node)
            if outer is None or c.scope is None or id(outer) in done or not _is_training_function(outer):
                continue
            done.add(id(outer))
            positions = BatchStatsDropped()._returned_positions(module, c.node, c.scope, outer)
            if not positions:
                continue
            grads = _returned_grad_positions(module, outer)
            if not grads:
                continue
            if flags is None:
                flags = step_bn_flags(project, module) or {}
            if not flags:
                return
            sites = []
            for site in project.call_sites(outer.name):
                if not isinstance(site.node.func, ast.Name) or kf.resolve_def(project, site.module, site.node.func) is not outer:
                    continue
                assign = site.module.parent(site.node)
                if not (isinstance(assign, ast.Assign) and assign.value is site.node and len(assign.targets) == 1
                        and isinstance(assign.targets[0], (ast.Tuple, ast.List))):
                    continue
                scope = site.module.scope_of(assign)
                owner = scope if scope is not None else site.module.tree
                read = {n.id for n in astwalk.walk(owner) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
                sites.append((site, assign.targets[0].elts, read))
            for size, index, returned in positions:
                usable = [(s, e, r) for s, e, r in sites if len(e) == size]
                if not any(not _dropped_at(e, index, r) for s, e, r in usable):
                    continue  # no training call keeps the statistics: BN402's case
                for site, elts, read in usable:
                    if not (_dropped_at(elts, index, read) and all(g < size and _dropped_at(elts, g, read) for g in grads)
                            and any(not _dropped_at(elts, i, read) for i in range(size))):
                        continue
                    if _apply_mode_at_site(module, project, outer, c.node, flags, site) is not False:
                        continue
                    words = _held_out_words(site.module, site.node)
                    if not words or deliberate_in_program(module, project):
                        continue
                    inference = _running_average_apply(project, module, flags)
                    if inference is None:
                        continue
                    yield self.finding(site.module, site.node, (
                        f"`{outer.name}` runs BatchNorm in training mode and is also called here on held-out data "
                        f"({', '.join(sorted(words))}), throwing away its gradients and new statistics (`{returned}`): "
                        "an evaluation whose metrics normalize each batch with that batch's own statistics, not "
                        f"with the running averages the model uses at inference ({inference}); give the step a "
                        "static train flag (train=False here) or evaluate with a separate eval step"))

    @staticmethod
    def _repeated(module: Module, call: ast.Call, scope: FuncNode) -> bool:
        """Is the apply repeated over ``range(...)`` in its function (Monte-Carlo passes, ensembles)?"""
        for a in module.ancestors_until(call, scope):
            it = a.iter if isinstance(a, (ast.For, ast.AsyncFor, ast.comprehension)) else None
            if it is None and isinstance(a, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
                if any(isinstance(g.iter, ast.Call) and isinstance(g.iter.func, ast.Name) and g.iter.func.id == "range"
                       for g in a.generators):
                    return True
            if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range":
                return True
        return False

    @staticmethod
    def _evaluation(module: Module, project: Project, call: ast.Call,
                    scope: FuncNode) -> Optional[tuple[FuncNode, str]]:
        """(the evaluation function holding ``call``, why it is one), or None."""
        chain = [scope] + [a for a in module.ancestors(scope) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))]
        names = [f.name for f in chain] + [c.name for c in module.ancestors(call) if isinstance(c, ast.ClassDef)]
        if BatchStatsUpdatedInEvaluation._trains_by_name(names) \
                or any(set(identifier_words(n)) & _SAMPLING_WORDS for n in names):
            return None
        differentiated = _differentiated_names(module)
        if any(f.name in differentiated or _is_training_function(f) or is_unit_test(module, f) or _asserting_test(f)
               for f in chain):
            return None
        named = next((f for f in chain if set(identifier_words(f.name)) & _EVAL_WORDS), None)
        wrapper = _inference_wrapper(module, chain[-1]) if named is None else None
        if wrapper is not None:
            named = chain[-1]
        outer = named or chain[-1]
        held_out = None
        for site_module, site in _calls_of_step(project, module, outer):
            if _site_in_training(site_module, site):
                return None  # also run in a training step: its metrics of the step's own batch
            if named is None and held_out is None and _held_out_words(site_module, site):
                held_out = f"called on held-out data at {site_module.line_ref(site.lineno)}"
        if wrapper is not None:
            return named, wrapper + ", no gradient, no update"
        if named is not None:
            return named, "named for evaluation, no gradient, no update"
        return (outer, held_out + ", no gradient, no update") if held_out else None


# --- what a value holds: the inner batch_stats dict or a dict of collections ----------------------
# ``apply`` takes (and ``init`` / ``apply(..., mutable=[...])`` return) a dict of collections,
# ``{"params": ..., "batch_stats": {"BatchNorm_0": {...}}}``; ``variables["batch_stats"]`` and a
# TrainState's ``batch_stats`` field hold the inner dict, keyed by layer. Mixing the two levels is
# silent: ``{"params": p, **inner}`` puts the layers at the top level (no "batch_stats" collection
# reaches apply: with it mutable, BatchNorm starts from fresh 0/1 statistics every step), and
# ``batch_stats={**old, **updates}`` with the whole ``updates`` dict adds a "batch_stats" entry next
# to the layers' own, whose statistics stay where they were.
INNER_STATS, COLLECTIONS = "inner batch_stats dict", "dict of collections"
_PASSTHROUGH_CALLS = {"freeze", "unfreeze", "deepcopy", "copy", "device_get", "device_put", "replicate",
                      "unreplicate", "to_state_dict", "stop_gradient"}
_SHAPE_DEPTH = 12


class _StatsShape:
    """``kinds(expr)``: the set of INNER_STATS / COLLECTIONS an expression (at a tuple index path) can
    hold, followed through names, tuple unpacking, parameters (every call site), attributes (every
    store of that attribute in the program, ``replace``/``create`` keywords), returns of project
    functions and ``jax.value_and_grad(f, has_aux=True)`` auxiliary outputs; None when any source is
    something else or cannot be followed."""

    def __init__(self, module: Module, project: Project):
        self.project = project
        self.program = same_program(module, project)
        self._active: set = set()
        self.evidence: list = []  # (node, module) of the subscripts / applies that decided

    def kinds(self, e: Optional[ast.AST], m: Module, scope, path: tuple = (), depth: int = 0) -> Optional[frozenset]:
        if e is None or depth > _SHAPE_DEPTH:
            return None
        key = (id(e), path)
        if key in self._active:
            return frozenset()
        self._active.add(key)
        try:
            return self._kinds(e, m, scope, path, depth)
        finally:
            self._active.discard(key)

    def _found(self, kind: str, node: ast.AST, m: Module) -> frozenset:
        if len(self.evidence) < 4:
            self.evidence.append((kind, node, m))
        return frozenset([kind])

    def _kinds(self, e: ast.AST, m: Module, scope, path: tuple, depth: int) -> Optional[frozenset]:
        if isinstance(e, ast.Constant) and e.value is None:
            return frozenset()
        if isinstance(e, ast.Subscript):
            s = e.slice
            if isinstance(s, ast.Constant) and s.value == "batch_stats":
                return self._found(INNER_STATS, e, m) if not path else None
            if isinstance(s, ast.Constant) and isinstance(s.value, int) and not isinstance(s.value, bool):
                return self.kinds(e.value, m, scope, (s.value,) + path, depth + 1)
            return None
        if isinstance(e, (ast.Tuple, ast.List)):
            if not path or any(isinstance(x, ast.Starred) for x in e.elts) or path[0] >= len(e.elts):
                return None
            return self.kinds(e.elts[path[0]], m, scope, path[1:], depth + 1)
        if isinstance(e, ast.Dict):
            if path:
                return None
            if any(isinstance(k, ast.Constant) and k.value == "batch_stats" for k in e.keys):
                return self._found(COLLECTIONS, e, m)
            if e.keys and all(k is None for k in e.keys):
                return self._union([self.kinds(v, m, scope, (), depth + 1) for v in e.values])
            return None
        if isinstance(e, ast.IfExp):
            return self._union([self.kinds(x, m, scope, path, depth + 1) for x in (e.body, e.orelse)])
        if isinstance(e, ast.Call):
            return self._call(e, m, scope, path, depth)
        if isinstance(e, ast.Name):
            return self._name(e.id, m, scope, path, depth)
        if isinstance(e, ast.Attribute):
            return self._attribute(e, m, path, depth)
        return None

    @staticmethod
    def _union(parts: list) -> Optional[frozenset]:
        out: frozenset = frozenset()
        for p in parts:
            if p is None:
                return None
            out |= p
        return out

    def _call(self, e: ast.Call, m: Module, scope, path: tuple, depth: int) -> Optional[frozenset]:
        name = _callee(e)
        q = m.imports.resolve(e.func) or ""
        if name in _PASSTHROUGH_CALLS:
            if e.args:
                return self.kinds(e.args[0], m, scope, path, depth + 1)
            if isinstance(e.func, ast.Attribute):  # ``x.copy()``, ``x.unfreeze()``
                return self.kinds(e.func.value, m, scope, path, depth + 1)
            return None
        if name == "get" and isinstance(e.func, ast.Attribute) and e.args and not path \
                and isinstance(e.args[0], ast.Constant) and e.args[0].value == "batch_stats":
            return self._found(INNER_STATS, e, m)
        if name == "pop" and path and path[1:] == ():
            key = e.args[-1] if e.args else None
            if isinstance(key, ast.Constant) and len(e.args) == (2 if isinstance(e.func, ast.Name) or q.endswith("core.pop") else 1):
                if path[0] == 0:
                    return self._found(COLLECTIONS, e, m)  # ``rest, params = flax.core.pop(variables, "params")``
                if path[0] == 1 and key.value == "batch_stats":
                    return self._found(INNER_STATS, e, m)
            return None
        if name in ("init", "init_with_output") and isinstance(e.func, ast.Attribute):
            if (name == "init" and not path) or (name == "init_with_output" and path == (1,)):
                return self._found(COLLECTIONS, e, m)
            return None
        if _is_apply_call(e) and _mutable_has_batch_stats(m, self.project, e):
            return self._found(COLLECTIONS, e, m) if path == (1,) else None
        grad = self._grad_call(e.func, m, scope)
        if grad is not None:
            g, fm, fscope = grad
            aux_path = (path[:2] == (0, 1) and (1,) + path[2:]) if _callee(g) == "value_and_grad" else (
                path[:1] == (1,) and (1,) + path[1:])
            if not aux_path or not _has_aux(g):
                return None
            fn = self._function(g.args[0], fm, fscope)
            return self._returns(fn, fm, aux_path, depth) if fn is not None else None
        fn_m = self._callee_def(e, m, scope)
        if fn_m is not None:
            return self._returns(fn_m[0], fn_m[1], path, depth)
        return None

    def _grad_call(self, func: ast.AST, m: Module, scope):
        """``jax.value_and_grad(f, has_aux=True)`` called inline or through a name bound to it."""
        if isinstance(func, ast.Call) and _callee(func) in GRAD_NAMES and func.args:
            return func, m, scope
        if isinstance(func, ast.Name):
            for owner, binding in self._bindings_of(func.id, m, scope):
                kind, node, p = binding
                if kind == "assign" and not p and isinstance(node, ast.Call) and _callee(node) in GRAD_NAMES \
                        and node.args:
                    return node, m, owner
                return None
        return None

    def _function(self, ref: ast.AST, m: Module, scope):
        if isinstance(ref, ast.Lambda):
            return ref
        if isinstance(ref, ast.Name):
            owner = scope
            while True:
                body = owner.body if owner is not None else m.tree.body
                for n in (_own_statements(owner) if owner is not None else body):
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == ref.id:
                        return n
                    if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == ref.id for t in n.targets):
                        return n.value if isinstance(n.value, ast.Lambda) else None
                if owner is None:
                    break
                owner = m.scope_of(owner)
            return kf.resolve_def(self.project, m, ref)
        if isinstance(ref, ast.Attribute) and isinstance(ref.value, ast.Name) and ref.value.id == "self":
            cls = m.enclosing_class(ref)
            return next((b for b in cls.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and b.name == ref.attr), None) if cls is not None else None
        return None

    def _callee_def(self, e: ast.Call, m: Module, scope):
        """The project function a call runs (directly, ``self.method(...)``, or through a name bound
        to ``jax.jit(f)`` / ``jax.pmap(f)``), with its module; None otherwise."""
        f = e.func
        fn = self._function(f, m, scope)
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return fn, self._module_of(fn, m)
        if isinstance(f, ast.Name):
            for owner, (kind, node, p) in self._bindings_of(f.id, m, scope):
                if kind == "assign" and not p and isinstance(node, ast.Call) and node.args \
                        and (m.imports.resolve(node.func) or "") in ("jax.jit", "jax.pmap"):
                    inner = self._function(node.args[0], m, owner)
                    if isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        return inner, self._module_of(inner, m)
                return None
        return None

    def _module_of(self, fn: ast.AST, m: Module) -> Module:
        for mod in self.project.modules:
            if mod is m or id(mod) in self.program:
                if any(f.node is fn for f in mod.functions):
                    return mod
        return m

    def _returns(self, fn: ast.AST, fm: Module, path: tuple, depth: int) -> Optional[frozenset]:
        if isinstance(fn, ast.Lambda):
            return self.kinds(fn.body, fm, fn, path, depth + 1)
        rets = [n for n in astwalk.walk(fn) if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom)) and fm.scope_of(n) is fn]
        if not rets or any(not isinstance(r, ast.Return) or r.value is None for r in rets):
            return None
        return self._union([self.kinds(r.value, fm, fn, path, depth + 1) for r in rets])

    def _bindings_of(self, name: str, m: Module, scope):
        """[(owner, (kind, node, path))] of the innermost scope that binds ``name``: ``assign``
        (value, index path into it), ``param`` (the function), ``other``."""
        owner = scope
        while True:
            found = _scope_bindings(m, owner, name)
            if found:
                return [(owner, b) for b in found]
            if owner is None:
                return []
            owner = m.scope_of(owner)

    def _name(self, name: str, m: Module, scope, path: tuple, depth: int) -> Optional[frozenset]:
        bindings = self._bindings_of(name, m, scope)
        if not bindings:
            return None
        parts = []
        for owner, (kind, node, p) in bindings:
            if kind == "assign":
                parts.append(self.kinds(node, m, owner, p + path, depth + 1))
            elif kind == "param":
                parts.append(self._param(node, name, m, path, depth))
            else:
                return None
        return self._union(parts)

    def _param(self, fn: ast.AST, param: str, m: Module, path: tuple, depth: int) -> Optional[frozenset]:
        if isinstance(fn, ast.Lambda):
            return None
        positional = [a.arg for a in fn.args.posonlyargs + fn.args.args]
        cls = m.enclosing_class(fn)
        method = cls is not None and m.parent(fn) is cls
        if method and positional[:1] == [param]:
            return None
        spec = V._param_spec(fn, param)
        if spec is None:
            return None
        sites = []
        for c in self.project.call_sites(fn.name):
            if id(c.module) not in self.program:
                continue
            f = c.node.func
            if method:
                if isinstance(f, ast.Attribute):
                    sites.append((c.node, c.module, 1))
            elif isinstance(f, ast.Name) and kf.resolve_def(self.project, c.module, f) is fn:
                sites.append((c.node, c.module, 0))
        # passed around (``jax.lax.scan(step, ...)``, a callback): callers we cannot see
        for mod in self.project.modules:
            if id(mod) not in self.program:
                continue
            for ref in mod.references.get(fn.name, ()):
                parent = mod.parent(ref)
                if isinstance(parent, ast.Call) and parent.args and parent.args[0] is ref \
                        and (mod.imports.resolve(parent.func) or "") in ("jax.jit", "jax.pmap"):
                    continue
                if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and ref in parent.decorator_list:
                    continue
                return None
        # ``p_step = jax.pmap(step)`` / ``jax.jit(step)``: the calls of the wrapper
        for mod in self.project.modules:
            if id(mod) not in self.program:
                continue
            for c in mod.calls:
                if (c.qualname or "") in ("jax.jit", "jax.pmap") and c.node.args and isinstance(c.node.args[0], (ast.Name, ast.Attribute)) \
                        and (c.node.args[0].id if isinstance(c.node.args[0], ast.Name) else c.node.args[0].attr) == fn.name:
                    assign = mod.parent(c.node)
                    if not (isinstance(assign, ast.Assign) and len(assign.targets) == 1):
                        return None
                    t = assign.targets[0]
                    wrapper = t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute) else None
                    if wrapper is None:
                        return None
                    for w in self.project.call_sites(wrapper):
                        if id(w.module) in self.program:
                            sites.append((w.node, w.module, 1 if method and isinstance(c.node.args[0], ast.Attribute) else 0))
        if not sites:
            return None
        parts = []
        for call, cm, offset in sites:
            arg = V._argument(call, param, spec[0], offset)
            if arg is V._OPAQUE:
                return None
            if arg is None:
                parts.append(self.kinds(spec[1], m, m.scope_of(fn), path, depth + 1) if spec[1] is not None
                             else frozenset())
            else:
                parts.append(self.kinds(arg, cm, cm.scope_of(call), path, depth + 1))
        return self._union(parts)

    def _attribute(self, e: ast.Attribute, m: Module, path: tuple, depth: int) -> Optional[frozenset]:
        attr = e.attr
        if attr in ("params", "opt_state", "step", "tx", "apply_fn"):
            return None
        index = _attribute_stores(self.project)
        if any(id(sm) in self.program for _, _, sm in index.get("*", ())):
            return None  # ``state.replace(**fields)``: any field may be written
        stores = index.get(attr, ())
        parts = []
        for value, p, sm in stores:
            if id(sm) not in self.program:
                continue
            if value is None:
                return None
            parts.append(self.kinds(value, sm, sm.scope_of(value), p + path, depth + 1))
        if not parts:
            return None
        return self._union(parts)


def _is_apply_call(call: ast.Call) -> bool:
    name = _callee(call)
    return name is not None and name not in ("init", "init_with_output", "lazy_init")


def _has_aux(grad: ast.Call) -> bool:
    aux = kf.kwarg(grad, "has_aux")
    return isinstance(aux, ast.Constant) and aux.value is True


def _own_statements(fn: ast.AST) -> list:
    """The nodes of a function body, nested functions' bodies excluded (their definitions included)."""
    out, stack = [], list(fn.body) if isinstance(fn.body, list) else [fn.body]
    while stack:
        n = stack.pop()
        out.append(n)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(n))
    return out


def _target_paths(target: ast.AST, name: str, prefix: tuple = ()):
    """Index paths at which ``name`` is bound in an assignment target (None: behind a starred)."""
    if isinstance(target, ast.Name):
        if target.id == name:
            yield prefix
    elif isinstance(target, (ast.Tuple, ast.List)):
        starred = any(isinstance(x, ast.Starred) for x in target.elts)
        for i, x in enumerate(target.elts):
            if starred and any(isinstance(n, ast.Name) and n.id == name for n in astwalk.walk(x)):
                yield None
            elif not starred:
                yield from _target_paths(x, name, prefix + (i,))


def _scope_bindings(m: Module, owner, name: str) -> list:
    """(kind, node, path) bindings of ``name`` made directly in ``owner`` (None: the module)."""
    memo = m.__dict__.setdefault("_flax_scope_bindings", {})
    key = (id(owner), name)
    if key in memo:
        return memo[key]
    out: list = []
    if owner is not None and not isinstance(owner, ast.Lambda):
        a = owner.args
        if name in {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}:
            out.append(("param", owner, ()))
        if name in {p.arg for p in (a.vararg, a.kwarg) if p is not None}:
            out.append(("other", None, ()))
    elif isinstance(owner, ast.Lambda):
        if name in {p.arg for p in owner.args.args + owner.args.kwonlyargs}:
            out.append(("other", None, ()))
    nodes = _own_statements(owner) if owner is not None and not isinstance(owner, ast.Lambda) else (
        [n for st in m.tree.body for n in ([st] if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                                           else astwalk.walk(st))] if owner is None else [])
    for n in nodes:
        if isinstance(n, ast.Assign):
            for t in n.targets:
                for p in _target_paths(t, name):
                    out.append(("assign", n.value, p) if p is not None else ("other", None, ()))
        elif isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name) and n.target.id == name:
            out.append(("assign", n.value, ()) if n.value is not None else ("other", None, ()))
        elif isinstance(n, (ast.AugAssign, ast.For, ast.AsyncFor, ast.comprehension)) and any(
                isinstance(x, ast.Name) and x.id == name for x in astwalk.walk(n.target)):
            out.append(("other", None, ()))
        elif isinstance(n, ast.NamedExpr) and n.target.id == name:
            out.append(("assign", n.value, ()))
        elif isinstance(n, ast.withitem) and n.optional_vars is not None and any(
                isinstance(x, ast.Name) and x.id == name for x in astwalk.walk(n.optional_vars)):
            out.append(("other", None, ()))
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name:
            out.append(("other", None, ()))
        elif isinstance(n, (ast.Import, ast.ImportFrom)) and any((x.asname or x.name.split(".")[0]) == name for x in n.names):
            out.append(("other", None, ()))
        elif isinstance(n, (ast.Global, ast.Nonlocal)) and name in n.names:
            out.append(("other", None, ()))
        elif isinstance(n, ast.ExceptHandler) and n.name == name:
            out.append(("other", None, ()))
    memo[key] = out
    return out


def _attribute_stores(project: Project) -> dict:
    """attr -> [(value or None, index path, module)]: ``x.attr = v`` (also as an element of an
    unpacked tuple target), ``replace(attr=v)`` / ``create(attr=v)`` / ``apply_gradients(attr=v)``
    of a flax struct, ``setattr(x, "attr", v)`` (value unknown)."""
    def compute(p: Project) -> dict:
        out: dict = {}
        for m in p.modules:
            for kind in (ast.Assign, ast.AnnAssign, ast.AugAssign):
                for node in m.nodes_of_kind.get(kind, ()):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
                    for t in targets:
                        _attribute_target(t, value, (), m, out)
            for c in m.calls:
                if c.name in ("replace", "create", "apply_gradients"):
                    for kw in c.node.keywords:
                        if kw.arg is not None:
                            out.setdefault(kw.arg, []).append((kw.value, (), m))
                        elif c.name == "replace":
                            out.setdefault("*", []).append((None, (), m))
                elif c.name == "setattr" and len(c.node.args) >= 2 and isinstance(c.node.args[1], ast.Constant):
                    out.setdefault(str(c.node.args[1].value), []).append((None, (), m))
        return out
    return project.fact("flax.attribute_stores", compute)


def _attribute_target(t: ast.AST, value, path: tuple, m: Module, out: dict) -> None:
    if isinstance(t, ast.Attribute):
        out.setdefault(t.attr, []).append((value, path, m))
    elif isinstance(t, (ast.Tuple, ast.List)):
        starred = any(isinstance(x, ast.Starred) for x in t.elts)
        for i, x in enumerate(t.elts):
            _attribute_target(x, None if starred or value is None else value, path + (i,), m, out)
    elif isinstance(t, ast.Starred):
        _attribute_target(t.value, None, path, m, out)


# --------------------------------------------------------------------------------------------------
# Flax NNX evaluated in training mode (reported as BN303 by the PyTorch mode rule, whose
# train() / eval() semantics NNX modules share; see ``nnx_evaluations_in_train_mode``)

NNX_MODULE_BASES = {"flax.nnx.Module", "flax.nnx.module.Module", "flax.experimental.nnx.Module"}
# What puts an NNX module (or a view of it) in another mode: Module.eval() / train() /
# set_attributes(), nnx.view / nnx.with_attributes, a store into ``.use_running_average``.
_NNX_MODE_CALLS = frozenset({"eval", "train", "set_attributes", "view", "with_attributes"})


# The attributes NNX ``Module.train()`` / ``eval()`` set (through ``set_attributes``, flax 0.12.8).
_NNX_SWITCHED_ATTRIBUTES = frozenset({"deterministic", "use_running_average"})
# Functions returning a view of an NNX module: a new graph sharing the model's Variables (its
# BatchStat included) with the static attributes the keywords name changed, the others as they were.
_NNX_VIEW_CALLS = frozenset({"flax.nnx.view", "flax.nnx.with_attributes", "flax.nnx.module.view",
                             "flax.nnx.module.with_attributes"})


def _nnx_attributes_set_by_name(project: Project) -> frozenset[str]:
    """Attribute names some call sets on NNX modules by keyword: ``model.train(training=True)``,
    ``set_attributes(...)``, ``nnx.view`` / ``nnx.with_attributes``, or a ``set_view`` method's
    parameters; ``"*"`` when such a call splats ``**kwargs`` or a ``set_view`` takes them."""
    def compute(p: Project) -> frozenset[str]:
        out: set[str] = set()
        for m in p.modules:
            if not m.imports.imports_any("flax"):
                continue
            for c in m.calls:
                if c.name in _NNX_MODE_CALLS:
                    out |= {k.arg or "*" for k in c.node.keywords}
                elif c.name == "setattr" and len(c.node.args) >= 2 and not isinstance(c.node.args[1], ast.Constant):
                    out.add("*")  # setattr(module, name, value) with a computed name
            for f in m.functions:
                if f.node.name == "set_view":
                    a = f.node.args
                    out |= {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs} | ({"*"} if a.kwarg else set())
        return frozenset(out)
    return project.fact("flax.nnx_attributes_set_by_name", compute)


def _nnx_module_class(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    """Does ``cls`` derive from ``nnx.Module`` (directly or through project classes)?"""
    if depth > 6:
        return False
    for b in cls.bases:
        if (module.imports.resolve(b) or "") in NNX_MODULE_BASES:
            return True
        found = kf.resolve_def_in(project, module, b)
        if isinstance(found[1], ast.ClassDef) and _nnx_module_class(project, found[0], found[1], depth + 1):
            return True
    return False


def _nnx_default_mode_bn(project: Project, module: Module, cls: ast.ClassDef) -> bool:
    """Does the NNX class ``cls`` hold BatchNorm whose mode only ``eval()`` / ``train()`` decide: an
    ``nnx.BatchNorm`` built in the class (or in a project class it builds, transitively) without
    ``use_running_average`` (or with a literal False: NNX's default, training mode), and nothing in
    those classes passing ``use_running_average=`` at call time or storing it?"""
    memo = project.fact("flax.nnx_default_mode_bn", lambda p: {})
    key = id(cls)
    if key not in memo:
        memo[key] = None  # a cycle counts as no evidence
        memo[key] = _nnx_default_mode_bn_uncached(project, module, cls)
    return bool(memo[key])


def _nnx_default_mode_bn_uncached(project: Project, module: Module, cls: ast.ClassDef) -> bool:
    if not _nnx_module_class(project, module, cls):
        return False
    found = False
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Attribute) and n.attr == "use_running_average" and isinstance(n.ctx, ast.Store):
            return False
        if not isinstance(n, ast.Call):
            continue
        if any(k.arg == "use_running_average" and not (kf._literal(k.value) is False and
                                                       (module.imports.resolve(n.func) or "") in NNX_BN)
               for k in n.keywords) or kf.has_kwargs_splat(n) and (module.imports.resolve(n.func) or "") in NNX_BN:
            return False  # the mode is chosen at construction or call time, not by eval() / train()
        q = module.imports.resolve(n.func) or ""
        if q in NNX_BN or _is_partial_of(module, n, NNX_BN, q):
            found = True
        elif isinstance(n.func, ast.Name):
            inner = _class_in_scope(project, module, n.func.id)
            if inner is not None and inner[1] is not cls and _nnx_default_mode_bn(project, inner[0], inner[1]):
                found = True
    return found


def _nnx_mode_switched(project: Project, module: Module) -> bool:
    """Does anything in the program of ``module`` (``same_program``) switch an NNX module's mode
    (``m.eval()``, ``m.train()``, ``m.set_attributes(...)``, ``nnx.view(m, ...)``, a store into
    ``.use_running_average``)? The receiver of ``x.train()`` counts unless it is a project object
    that is no NNX module (a ``Trainer`` whose ``train()`` runs the loop). Another script of the
    repository switching its own model says nothing about this one."""
    def compute(p: Project) -> set[int]:
        found: set[int] = set()
        for m in p.modules:
            if not m.imports.imports_any("flax"):
                continue
            for c in m.calls:
                if c.name not in _NNX_MODE_CALLS:
                    continue
                if c.name in ("view", "with_attributes"):
                    if "nnx" in (c.qualname or ""):
                        found.add(id(m))
                elif isinstance(c.node.func, ast.Attribute) and not _non_nnx_receiver(p, m, c.node.func.value):
                    found.add(id(m))
            if _assigns_use_running_average(m):
                found.add(id(m))
        return found
    switching = project.fact("flax.nnx_mode_switch_modules", compute)
    return bool(switching & same_program(module, project))


def _nnx_running_average_may_be_set(project: Project, module: Module) -> tuple[bool, Optional[ast.Call]]:
    """Can anything in the program of ``module`` put an NNX BatchNorm in running-average mode? True for an ``eval()`` call on anything but a project object that is no NNX
    module, a mode call (``set_attributes``, ``nnx.view``, ``with_attributes``, ``train``) passing
    ``use_running_average`` (other than a literal False) or splatting ``**kwargs``, ``setattr`` with a
    computed name, a store into ``.use_running_average``, a ``set_view`` method. Otherwise (every
    mode switch leaves BatchNorm in training mode: ``nnx.view(model, deterministic=True)``,
    ``model.set_attributes(nnx.Dropout, deterministic=True)``, ``model.train()``) the first such
    switch, for the message (``nnx.view`` / ``with_attributes`` / ``set_attributes`` preferred): (False, call)."""
    def compute(p: Project) -> dict[int, tuple[bool, Optional[tuple[str, ast.Call]]]]:
        out: dict[int, tuple[bool, Optional[tuple[str, ast.Call]]]] = {}
        for m in p.modules:
            if not m.imports.imports_any("flax"):
                continue
            may, first = False, None
            for c in m.calls:
                if c.name == "setattr" and len(c.node.args) >= 2 and not isinstance(c.node.args[1], ast.Constant):
                    may = True
                if c.name not in _NNX_MODE_CALLS:
                    continue
                if c.name in ("view", "with_attributes") and "nnx" not in (c.qualname or ""):
                    continue
                if c.name == "eval":
                    if isinstance(c.node.func, ast.Attribute) and not _non_nnx_receiver(p, m, c.node.func.value):
                        may = True
                    continue
                if kf.has_kwargs_splat(c.node) or any(k.arg == "use_running_average" and kf._literal(k.value) is not False
                                                      for k in c.node.keywords):
                    may = True
                elif first is None or c.name != "train" and first[0] == "train":
                    first = (c.name, c.node)
            if _assigns_use_running_average(m):
                may = True
            if any(f.node.name == "set_view" for f in m.functions):
                may = True
            out[id(m)] = (may, first)
        return out
    facts = project.fact("flax.nnx_running_average_may_be_set", compute)
    first = None
    for mid in same_program(module, project):
        may, found = facts.get(mid, (False, None))
        if may:
            return True, None
        if found is not None and (first is None or found[0] != "train" and first[0] == "train"):
            first = found
    return False, first[1] if first else None


def _non_nnx_receiver(project: Project, module: Module, expr: ast.expr) -> bool:
    """Is ``expr`` (the receiver of ``.train()``) a project object that is no NNX module: ``self``
    in such a class, or a name bound to an instance of one?"""
    if isinstance(expr, ast.Name) and expr.id == "self":
        cls = module.enclosing_class(expr)
        return cls is not None and not _nnx_module_class(project, module, cls)
    if isinstance(expr, ast.Name):
        classes = _instance_classes(module, project, expr, 0)
        return bool(classes) and not any(_nnx_module_class(project, m, c) for m, c in classes)
    return False


def _nnx_trains(project: Project, module: Module) -> bool:
    """Does the program of ``module`` train an NNX model (``nnx.Optimizer``, ``nnx.grad`` /
    ``value_and_grad``)?"""
    def compute(p: Project) -> set[int]:
        return {id(m) for m in p.modules if m.imports.imports_any("flax") for c in m.calls
                if c.name in ("Optimizer", "ModelAndOptimizer", "grad", "value_and_grad")
                and "nnx" in (c.qualname or "")}
    return bool(project.fact("flax.nnx_training_modules", compute) & same_program(module, project))


def _forwarded_parameters(project: Project, module: Module, fn: FuncNode, depth: int = 0) -> dict[str, ast.Call]:
    """Parameters of ``fn`` that it runs forward: ``p(...)`` in its own body, or ``p`` handed to a
    project function that runs the matching parameter forward (``loss_fn(model, x, y)``) -> the call
    in ``fn`` that does it. Functions given to a gradient transform are followed like any other."""
    out: dict[str, ast.Call] = {}
    if depth > 3:
        return out
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs} - {"self"}
    for n in astwalk.walk(fn):
        if not isinstance(n, ast.Call) or module.scope_of(n) is not fn:
            continue
        if isinstance(n.func, ast.Name) and n.func.id in params:
            out.setdefault(n.func.id, n)
            continue
        passed = [(i, a.id) for i, a in enumerate(n.args) if isinstance(a, ast.Name) and a.id in params]
        passed += [(k.arg, k.value.id) for k in n.keywords
                   if k.arg and isinstance(k.value, ast.Name) and k.value.id in params]
        if not passed or not isinstance(n.func, (ast.Name, ast.Attribute)):
            continue
        callee_module, callee = kf.resolve_def_in(project, module, n.func)
        if callee_module is None or not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        inner = _forwarded_parameters(project, callee_module, callee, depth + 1)
        names = [a.arg for a in callee.args.posonlyargs + callee.args.args]
        for where, name in passed:
            target = names[where] if isinstance(where, int) and where < len(names) else where
            if isinstance(target, str) and target in inner:
                out.setdefault(name, n)
    return out


def nnx_evaluations_in_train_mode(module: Module, project: Project) -> list[tuple[ast.Call, str]]:
    """Flax NNX evaluation run in training mode: a function named for evaluation (``eval_step``,
    ``validate``, ``predict``...) that computes no gradient and applies no update runs a model
    parameter forward (``model(x)``, or ``loss_fn(model, x, y)``) when every model its callers pass
    is a project NNX module holding BatchNorm in its default mode and nothing in the project ever
    switches an NNX module's mode (``eval()``, ``train()``, ``set_attributes``, ``nnx.view``). NNX
    modules start in training mode: the BatchNorm normalizes the evaluation batches with their own
    statistics and updates its ``BatchStat`` running averages in place (``nnx.jit`` writes them
    back), so the evaluation data leaks into the statistics used at inference. (call, message) pairs."""
    if not module.imports.imports_any("flax.nnx", "flax.experimental.nnx") or is_test_file(module.path):
        return []
    if not _nnx_trains(project, module) or deliberate_in_program(module, project):
        return []
    switch = None
    if _nnx_mode_switched(project, module):
        may, switch = _nnx_running_average_may_be_set(project, module)
        if may or switch is None:
            return []  # (a switch to running averages somewhere: which model each evaluation gets is not followed)
    if mentions_deliberate_batch_stats(re.split(r"[/\\.]", project.relative_path(module))):
        return []
    out: list[tuple[ast.Call, str]] = []
    for info in module.functions:
        fn = info.node
        words = set(identifier_words(fn.name))
        if not words & _EVAL_WORDS or is_unit_test(module, fn) or _asserting_test(fn):
            continue
        names = [fn.name] + [a.name for a in module.ancestors(fn) if isinstance(a, (ast.FunctionDef, ast.ClassDef))]
        if BatchStatsUpdatedInEvaluation._trains_by_name(names) \
                or any(set(identifier_words(n)) & _SAMPLING_WORDS for n in names):
            continue
        if _is_training_function(fn) or fn.name in _differentiated_names(module):
            continue
        runs = [(p, c, _passed_classes(project, module, fn, p))
                for p, c in _forwarded_parameters(project, module, fn).items()]
        runs += [(f"self.{a}", c, _attribute_classes(project, module, fn, a))
                 for a, c in _forwarded_attributes(project, module, fn).items()]
        for param, call, classes in runs:
            if not classes or not all(_nnx_default_mode_bn(project, m, c) for m, c in classes):
                continue
            shown = ", ".join(sorted({c.name for _, c in classes}))
            out.append((call, _nnx_eval_message(param, shown, f"in `{fn.name}`", switch)))
            break
    reported = {id(c) for c, _ in out}
    for loop, name, call in _held_out_loop_forwards(project, module):
        if id(call) in reported:
            continue
        classes = _instance_classes(module, project, name, 0, views=True)
        if not classes or not all(_nnx_default_mode_bn(project, m, c) for m, c in classes):
            continue
        reported.add(id(call))
        shown = ", ".join(sorted({c.name for _, c in classes}))
        out.append((call, _nnx_eval_message(name.id, shown, f"in the loop over `{ast.unparse(loop.iter)}`", switch)))
    return out


def _nnx_eval_message(model: str, classes: str, where: str, switch: Optional[ast.Call] = None) -> str:
    if switch is not None:
        text = ast.unparse(switch)[:80]
        how = (f"`{text}` puts modules in training mode" if isinstance(switch.func, ast.Attribute)
               and switch.func.attr == "train" else f"`{text}` changes other attributes only, e.g. Dropout's "
               f"`deterministic`; a view shares the model's BatchStat")
        return (f"`{model}` ({classes}, an NNX module with BatchNorm) is run for evaluation {where}, but no mode "
                f"switch in this program sets BatchNorm's `use_running_average` to True ({how}): its "
                f"BatchNorm still normalizes the evaluation batches with their own statistics and folds them into "
                f"the shared running averages (nnx.jit writes them back). Call `{model}.eval()` before evaluating, "
                f"or pass `use_running_average=True` to the view / set_attributes call as well.")
    return (f"`{model}` ({classes}, an NNX module with BatchNorm) is run for evaluation {where}, but nothing "
            f"in this program ever puts an NNX module in eval mode: NNX modules start in training mode, so its "
            f"BatchNorm normalizes the evaluation batches with their own statistics and folds them into its "
            f"BatchStat running averages (nnx.jit writes them back into the model). Call `{model}.eval()` before "
            f"evaluating (and `{model}.train()` before training), or evaluate "
            f"`nnx.view({model}, use_running_average=True)`.")


def _held_out_loop_forwards(project: Project, module: Module) -> Iterable[tuple[ast.For, ast.Name, ast.Call]]:
    """(loop, model name, call) for a ``for`` loop over held-out data (``for x, y in val_loader``,
    ``make_batches(test_ds)``) that computes no gradient and applies no update, in a function not
    named for training / adaptation / sampling, and runs a model name forward in its own body:
    ``model(x)``, or ``model`` handed to a project function that runs it (``loss_fn(model, x, y)``)."""
    for loop in (b for b in module.blocks if isinstance(b, ast.For)):
        words = {w for n in astwalk.walk(loop.iter) if isinstance(n, (ast.Name, ast.Attribute))
                 for w in identifier_words(n.id if isinstance(n, ast.Name) else n.attr)}
        if not words & _HELD_OUT_WORDS or _is_training_function(loop):
            continue
        scope = module.scope_of(loop)
        names = [a.name for a in module.ancestors(loop)
                 if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        # (a test loop inside ``train()`` / ``fit()`` is still an evaluation: the loop itself trains nothing)
        if any(_RECALIBRATION.search(n) for n in names) or mentions_deliberate_batch_stats(names) \
                or any(set(identifier_words(n)) & _SAMPLING_WORDS for n in names):
            continue
        if scope is not None and (is_unit_test(module, scope) or _asserting_test(scope)):
            continue
        for n in astwalk.walk(loop):
            if not isinstance(n, ast.Call) or module.scope_of(n) is not scope:
                continue
            if isinstance(n.func, ast.Name) and n.func.id not in ("print", "len", "float", "int"):
                callee_module, callee = kf.resolve_def_in(project, module, n.func)
                if callee is None:
                    yield loop, n.func, n  # model(x)
                    continue
            if not isinstance(n.func, (ast.Name, ast.Attribute)):
                continue
            passed = [(i, a) for i, a in enumerate(n.args) if isinstance(a, ast.Name)]
            if not passed:
                continue
            callee_module, callee = kf.resolve_def_in(project, module, n.func)
            if callee_module is None or not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    or set(identifier_words(callee.name)) & _EVAL_WORDS:
                continue  # an evaluation function is judged by itself (reported there, or deliberate)
            inner = _forwarded_parameters(project, callee_module, callee, 1)
            params = [a.arg for a in callee.args.posonlyargs + callee.args.args]
            for i, a in passed:
                if i < len(params) and params[i] in inner:
                    yield loop, a, n


def _passed_classes(project: Project, module: Module, fn: FuncNode,
                    param: str) -> Optional[list[tuple[Module, ast.ClassDef]]]:
    """The project classes of what every call of ``fn`` passes for ``param`` (None when a call is
    unknown, or nothing calls it)."""
    sites = [s for s in project.call_sites(fn.name) if isinstance(s.node.func, ast.Name)
             and kf.resolve_def(project, s.module, s.node.func) is fn]
    if not sites or module.enclosing_class(fn) is not None:
        return None
    out: list[tuple[Module, ast.ClassDef]] = []
    for s in sites:
        arg, explicit = kf.argument_for(s.node, fn, param)
        if arg is None or not explicit:
            return None
        got = _instance_classes(s.module, project, arg, 1, views=True)
        if got is None:
            return None
        out += got
    return out


def _forwarded_attributes(project: Project, module: Module, fn: FuncNode) -> dict[str, ast.Call]:
    """Attributes ``self.a`` that the method ``fn`` runs forward: ``self.a(...)``, or ``self.a`` handed
    to a project function that runs the matching parameter forward -> the call that does it."""
    out: dict[str, ast.Call] = {}
    if module.enclosing_class(fn) is None or not fn.args.args or fn.args.args[0].arg != "self":
        return out

    def self_attr(e: ast.AST) -> Optional[str]:
        if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self":
            return e.attr
        return None

    for n in astwalk.walk(fn):
        if not isinstance(n, ast.Call) or module.scope_of(n) is not fn:
            continue
        attr = self_attr(n.func)
        if attr is not None:
            out.setdefault(attr, n)
            continue
        passed = [(i, self_attr(a)) for i, a in enumerate(n.args) if self_attr(a)]
        if not passed or not isinstance(n.func, (ast.Name, ast.Attribute)):
            continue
        callee_module, callee = kf.resolve_def_in(project, module, n.func)
        if callee_module is None or not isinstance(callee, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        inner = _forwarded_parameters(project, callee_module, callee, 1)
        names = [a.arg for a in callee.args.posonlyargs + callee.args.args]
        for i, attr in passed:
            if i < len(names) and names[i] in inner:
                out.setdefault(attr, n)
    return out


def _attribute_classes(project: Project, module: Module, fn: FuncNode,
                       attr: str) -> Optional[list[tuple[Module, ast.ClassDef]]]:
    """The project classes every ``self.<attr> = ...`` of ``fn``'s class stores (``self.model =
    Net(...)`` in ``__init__``), when the class itself is no NNX module; None when any is unknown."""
    cls = module.enclosing_class(fn)
    if cls is None or _nnx_module_class(project, module, cls):
        return None
    out: list[tuple[Module, ast.ClassDef]] = []
    for n in astwalk.walk(cls):
        if isinstance(n, (ast.Assign, ast.AnnAssign)) and n.value is not None:
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any(isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name)
                   and t.value.id == "self" for t in targets):
                got = _instance_classes(module, project, n.value, 1)
                if got is None:
                    return None
                out += got
        elif isinstance(n, (ast.AugAssign, ast.Tuple, ast.List)) and any(
                isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.ctx, ast.Store) for t in astwalk.walk(n)):
            return None
    return out or None


def _assigns_use_running_average(m) -> bool:
    """Does the module store into some ``.use_running_average`` (``bn.use_running_average = True``)?"""
    if "use_running_average" not in m.unit.text:
        return False
    for kind in (ast.Assign, ast.AnnAssign, ast.AugAssign):
        for node in m.nodes_of_kind.get(kind, ()):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "use_running_average" for t in targets):
                return True
    return False
