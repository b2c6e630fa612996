"""TF1 hand-written batch norm whose moving-average update runs on both sides of its mode switch: BN107.

The classic hand-written batch norm (``tf.nn.moments`` + ``tf.train.ExponentialMovingAverage`` or
``assign_moving_average``) chooses its statistics with ``tf.cond(phase_train, train_fn, eval_fn)``:
the train branch returns the batch moments under ``tf.control_dependencies([update_op])``. The
update runs only when training if, and only if, ``update_op`` is *created inside* ``train_fn``. An op
created before the ``tf.cond`` is not in the branch's control-flow context: the branch only waits on
it, so the executor runs it whenever the ``cond`` runs, whatever the predicate (a v2 ``If`` lifts
the captured control input the same way; in eager mode the op simply ran when it was created). Every
validation or test run with the flag False then folds its batches into the moving statistics.
"""
from __future__ import annotations

import ast
from typing import Iterable, Iterator, Optional

from bnguard.lint import astwalk
from bnguard.lint import values as V
from bnguard.lint.imports import dotted
from bnguard.lint.prefilter import EXTERNAL_ROOTS
from bnguard.lint.finding import Finding
from bnguard.lint.project import Module, Project
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.tf1 import VERSIONS
from bnguard.lint.torchflow import _own_nodes  # the nodes of a body, nested scopes excluded

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
# Branch switches: ``tf.cond`` / ``control_flow_ops.cond``, ``tf.case``, ``tf.switch_case`` and the
# ``smart_cond`` helpers (TF's own, contrib/layers ``utils.smart_cond``, a project's wrapper of
# ``tf.cond``; a Python-bool predicate builds no cond at all, see ``_switches_at_run_time``).
_SWITCHES = frozenset({"cond", "case", "switch_case", "smart_cond"})
# Texts a file must hold for a statistics switch with a wrapped update.
_BN_WORDS = ("moments", "batch_normalization", "reduce_mean", "moving", "ExponentialMovingAverage")


def _binds(scope: ast.AST, name: str) -> list[ast.AST]:
    """The values ``scope``'s own body assigns to ``name`` (a ``name = ...`` target, or an element
    of a tuple target: then the marker ``None``); parameters and other bindings count as
    ``None`` too (not an op the scope built)."""
    out: list = []
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = scope.args
        if any(p.arg == name for p in a.posonlyargs + a.args + a.kwonlyargs + [x for x in (a.vararg, a.kwarg) if x]):
            out.append(None)
    for n in _own_nodes(scope):
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name) and t.id == name:
                    out.append(n.value)
                elif isinstance(t, (ast.Tuple, ast.List)) and any(
                        isinstance(e, ast.Name) and e.id == name for e in astwalk.walk(t)):
                    out.append(None)
        elif isinstance(n, (ast.AugAssign, ast.AnnAssign, ast.For, ast.withitem, ast.NamedExpr)):
            t = n.optional_vars if isinstance(n, ast.withitem) else n.target
            if t is not None and any(isinstance(e, ast.Name) and e.id == name for e in astwalk.walk(t)):
                out.append(None)
        elif isinstance(n, _FUNCS + (ast.ClassDef,)) and n.name == name:
            out.append(None)
        elif isinstance(n, (ast.Import, ast.ImportFrom)) and any(
                (al.asname or al.name.split(".")[0]) == name for al in n.names):
            out.append(None)
    return out


class _Scopes:
    """The chain of scopes around a node (innermost first), as Python's closures see them."""

    def __init__(self, module: Module, node: ast.AST):
        self.module = module
        self.chain: list[ast.AST] = [a for a in module.ancestors(node) if isinstance(a, _FUNCS + (ast.Lambda,))]
        self.chain.append(module.tree)

    def lookup(self, name: str) -> Optional[tuple[ast.AST, list]]:
        """The innermost scope binding ``name`` and the values it binds there."""
        for s in self.chain:
            vals = _binds(s, name)
            if vals:
                return s, vals
        return None


def _switch_branches(call: ast.Call, name: str) -> list[ast.AST]:
    """The branch-function expressions of a ``cond``/``case``/``switch_case``/``smart_cond`` call."""
    kws = {k.arg: k.value for k in call.keywords if k.arg}
    if name in ("cond", "smart_cond"):
        out = [call.args[i] if len(call.args) > i else kws.get(k1, kws.get(k2))
               for i, k1, k2 in ((1, "true_fn", "fn1"), (2, "false_fn", "fn2"))]
        return [b for b in out if b is not None]
    table = call.args[0] if call.args else kws.get("pred_fn_pairs" if name == "case" else "branch_fns")
    if name == "switch_case":
        table = call.args[1] if len(call.args) > 1 else kws.get("branch_fns")
    out = []
    if isinstance(table, ast.Dict):
        out += [v for v in table.values if v is not None] if name == "switch_case" else list(table.values)
    elif isinstance(table, (ast.List, ast.Tuple)):
        for e in table.elts:
            if isinstance(e, (ast.Tuple, ast.List)) and len(e.elts) == 2:
                out.append(e.elts[1])
            elif name == "switch_case":
                out.append(e)
    default = kws.get("default") or (call.args[1] if name == "case" and len(call.args) > 1 else None)
    if default is not None:
        out.append(default)
    return out


def _branch_function(expr: ast.AST, scopes: _Scopes) -> Optional[ast.AST]:
    """The function a branch expression names: a lambda, or a ``def`` of an enclosing scope."""
    if isinstance(expr, ast.Lambda):
        return expr
    if isinstance(expr, ast.Name):
        for s in scopes.chain:
            defs = [n for n in _own_nodes(s) if isinstance(n, _FUNCS) and n.name == expr.id]
            if defs:
                return defs[0] if len(defs) == 1 else None
            if _binds(s, expr.id):
                return None
    return None


def _dependency_lists(fn: ast.AST, module: Module) -> Iterator[tuple[ast.AST, ast.AST]]:
    """``(deps, anchor)`` for each set of control dependencies a branch function declares:
    ``with tf.control_dependencies(deps):``, ``control_flow_ops.with_dependencies(deps, out)``,
    ``tf.tuple(tensors, control_inputs=deps)``."""
    for n in _own_nodes(fn):
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        last = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
        q = module.imports.resolve(f) or ""
        if last == "control_dependencies" and q.startswith("tensorflow") and n.args:
            yield n.args[0], n
        elif last == "with_dependencies" and (n.args or n.keywords):
            dep = n.args[0] if n.args else next((k.value for k in n.keywords if k.arg == "dependencies"), None)
            if dep is not None:
                yield dep, n
        elif last == "tuple" and q.startswith("tensorflow"):
            dep = next((k.value for k in n.keywords if k.arg == "control_inputs"), None)
            if dep is not None:
                yield dep, n


def _dependency_names(deps: ast.AST) -> list[ast.AST]:
    """The names / ``self.x`` attributes listed as control dependencies."""
    elts = deps.elts if isinstance(deps, (ast.List, ast.Tuple)) else [deps]
    return [e for e in elts if isinstance(e, ast.Name)
            or isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self"]


def _ema_object(expr: ast.AST, scopes: _Scopes, module: Module) -> bool:
    """Is ``expr`` a ``tf.train.ExponentialMovingAverage`` (built inline, bound to a local name of
    an enclosing scope, or to ``self.<attr>`` by the enclosing class)?"""
    def is_ema(v) -> bool:
        return isinstance(v, ast.Call) and (dotted(v.func) or "").endswith("ExponentialMovingAverage")
    if is_ema(expr):
        return True
    if isinstance(expr, ast.Name):
        found = scopes.lookup(expr.id)
        return found is not None and all(is_ema(v) for v in found[1])
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        cls = module.enclosing_class(expr)
        stores = [n.value for n in astwalk.walk(cls) if isinstance(n, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == expr.attr and isinstance(t.value, ast.Name)
            and t.value.id == "self" for t in n.targets)] if cls is not None else []
        return bool(stores) and all(is_ema(v) for v in stores)
    return False


def _update_averages(value: ast.AST, scopes: _Scopes, module: Module) -> Optional[list[ast.AST]]:
    """When ``value`` builds a moving-average update — ``ema.apply([mean, var])``,
    ``assign_moving_average(moving_mean, mean, decay)``, ``tf.assign(pop_mean, pop_mean * d + mean *
    (1 - d))``, ``moving_var.assign(...)`` — the expressions it averages in; else None."""
    if not isinstance(value, ast.Call):
        return None
    f = value.func
    last = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    q = module.imports.resolve(f) or ""
    kws = {k.arg: k.value for k in value.keywords if k.arg}
    if last == "apply" and isinstance(f, ast.Attribute) and _ema_object(f.value, scopes, module):
        arg = value.args[0] if value.args else kws.get("var_list")
        return [arg] if arg is not None else None
    if last == "assign_moving_average":
        arg = value.args[1] if len(value.args) > 1 else kws.get("value")
        return [arg] if arg is not None else None
    if last in ("assign", "assign_sub") and q.startswith("tensorflow") and len(value.args) >= 2:
        return [value.args[1]]
    if last in ("assign", "assign_sub") and isinstance(f, ast.Attribute) and not q and len(value.args) == 1 \
            and isinstance(f.value, (ast.Name, ast.Attribute)):
        return [value.args[0]]
    return None


def _update_binding(dep: ast.AST, scopes: _Scopes, module: Module, depth: int = 2) \
        -> Optional[tuple[ast.AST, list[ast.AST]]]:
    """When every binding of the dependency ``dep`` (a free name of the branch function, or
    ``self.x`` stored by the function around the switch) is a moving-average update built outside
    the branch — directly, a list/tuple of such names, or ``tf.group`` of them — the (first) update
    expression and what it averages; else None."""
    if isinstance(dep, ast.Name):
        found = scopes.lookup(dep.id)
        if found is None:
            return None
        values = found[1]
    else:  # ``self.x``: stores in the functions around the switch (the method that builds the layer)
        values = []
        for s in scopes.chain[1:-1]:
            values += [n.value for n in _own_nodes(s) if isinstance(n, ast.Assign) and any(
                isinstance(t, ast.Attribute) and t.attr == dep.attr and isinstance(t.value, ast.Name)
                and t.value.id == "self" for t in n.targets)]
    if not values or any(v is None for v in values):
        return None
    first, averaged = None, []
    for v in values:
        got = _update_averages(v, scopes, module)
        if got is None and depth > 0:
            parts = None
            if isinstance(v, ast.Name):  # ``deps = updates``: an alias of a list (or op) built before
                sub = _update_binding(v, scopes, module, depth - 1)
                if sub is not None:
                    v, got = sub
            elif isinstance(v, (ast.List, ast.Tuple)):
                parts = v.elts
            elif isinstance(v, ast.Call) and (module.imports.resolve(v.func) or "") in (
                    "tensorflow.group", "tensorflow.tuple"):
                parts = v.args[0].elts if len(v.args) == 1 and isinstance(v.args[0], (ast.List, ast.Tuple)) \
                    else v.args
            if parts:
                subs = [_update_binding(p, scopes, module, depth - 1) if isinstance(p, ast.Name)
                        else (p, _update_averages(p, scopes, module)) for p in parts]
                if subs and all(s is not None and s[1] is not None for s in subs):
                    got = [a for s in subs for a in s[1]]
                    v = subs[0][0]
        if got is None:
            return None
        first = first or v
        averaged += got
    return first, averaged


def _batch_statistic(name: str, scopes: _Scopes) -> bool:
    """Is ``name`` bound (where the branch sees it) only to the result of a moments call
    (``mean, var = tf.nn.moments(x, [0])``, ``m, v = self._batch_moments(x)``) or of a reduction
    (``mu = tf.reduce_mean(x, [0, 1, 2])``)?"""
    for s in scopes.chain:
        values = [n.value for n in _own_nodes(s) if isinstance(n, ast.Assign) and any(
            isinstance(e, ast.Name) and e.id == name for t in n.targets for e in astwalk.walk(t))]
        if values:
            return all(isinstance(v, ast.Call) and _statistic_callee(v) for v in values)
        if _binds(s, name):
            return False
    return False


def _statistic_callee(call: ast.Call) -> bool:
    f = call.func
    last = (f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else "").lower()
    return "moment" in last or last in ("reduce_mean", "reduce_variance", "reduce_std", "sufficient_statistics")


def _never_used(scope: Optional[ast.AST], module: Module, project: Project) -> bool:
    """Is the function holding the switch dead code: no call and no reference to its name in its
    program (the modules its file is connected to by imports), library APIs of the same name
    (``slim.batch_norm``) aside? A leftover helper builds no graph."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False  # module-level code, or a lambda: it runs (or its holder is judged elsewhere)
    name = scope.name
    program = project.import_component(module)
    if any(id(site.module) in program and not _library_name(site.qualname) for site in project.call_sites(name)):
        return False
    return not any(not _library_name(m.qualname(ref)) for m in project.modules
                   if id(m) in program and m.mentions(name) for ref in m.references.get(name, ()))


def _library_name(qualname: Optional[str]) -> bool:
    """A callee / reference that names a library API (``slim.batch_norm``), not a project function."""
    return bool(qualname) and qualname.split(".")[0] in EXTERNAL_ROOTS  # type: ignore[union-attr]


def _switches_at_run_time(call: ast.Call, name: str, module: Module, project: Project) -> bool:
    """Can the switch take either branch when the graph runs? A ``tf.cond`` whose predicate is
    always one constant (``tf.constant(True)``) is no switch; a ``smart_cond`` builds a ``tf.cond``
    only for a tensor predicate (a Python bool calls one branch function and builds nothing else),
    so its predicate must be a placeholder or a run-time value at every call."""
    if name == "case" or name == "switch_case":
        return True
    pred = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "pred"), None)
    if pred is None:
        return False
    vals = V.possible_values(pred, module, project)
    if name == "cond":
        return not V.is_constant_set(vals)
    return vals is not V.UNKNOWN and bool(vals) and all(isinstance(v, V.MARKERS) for v in vals)


@register
class UpdateBuiltOutsideBranch(Rule):
    code = "BN107"
    name = "moving-average-update-outside-branch"
    framework = "tensorflow"
    severity = "error"
    summary = ("A hand-written BN's moving-average update op is built outside the tf.cond train branch that waits "
               "on it, so it runs on evaluation runs too.")
    triggers = ("control_dependencies", "with_dependencies", "control_inputs")
    doc = RuleDoc(
        what="""
Finds the moving-average update of a hand-written batch norm — `ema.apply([batch_mean, batch_var])`
on a `tf.train.ExponentialMovingAverage`, `assign_moving_average(moving_mean, batch_mean, decay)`,
`tf.assign(pop_mean, pop_mean * decay + batch_mean * (1 - decay))`, `moving_var.assign(...)`, a list or
`tf.group` of them — that is created OUTSIDE a `tf.cond` (also `tf.case`, `tf.switch_case`, a
`smart_cond` with a tensor predicate) and only waited on INSIDE one of its branch functions:
`with tf.control_dependencies([update_op]):` (or `with_dependencies([update_op], ...)`, `tf.tuple(...,
control_inputs=[update_op])`) in the branch that returns the batch statistics the update averages. The
branch may be a nested `def` or a lambda; the update a name of the function around the switch (or a
`self.` attribute it stores). Reported at the statement that builds the update.
""",
        why="""
Only ops created inside a branch function belong to that branch's control-flow context. An op created
before the `tf.cond` is an ordinary op of the graph: the branch merely waits on it, and the executor
runs it whenever anything that depends on the `cond` runs, whatever the predicate (a v2 `If` op lifts
the captured control input the same way; in eager mode the op ran when it was created). So every
validation or test run with `phase_train=False` folds its batches into the moving mean/variance: the
statistics used at inference drift towards the evaluation data (contaminated), and a shifted
validation set visibly changes the model that is later saved.
""",
        example="""
def batch_norm(x, n_out, phase_train):
    beta = tf.Variable(tf.zeros([n_out]))
    gamma = tf.Variable(tf.ones([n_out]))
    batch_mean, batch_var = tf.nn.moments(x, [0])
    ema = tf.train.ExponentialMovingAverage(decay=0.9)
    ema_apply_op = ema.apply([batch_mean, batch_var])    # built outside the cond: always runs

    def mean_var_with_update():
        with tf.control_dependencies([ema_apply_op]):
            return tf.identity(batch_mean), tf.identity(batch_var)

    mean, var = tf.cond(phase_train, mean_var_with_update,
                        lambda: (ema.average(batch_mean), ema.average(batch_var)))
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)


h = batch_norm(features, 64, phase_train)   # phase_train fed False at validation
""",
        use_instead="""
def batch_norm(x, n_out, phase_train):
    beta = tf.Variable(tf.zeros([n_out]))
    gamma = tf.Variable(tf.ones([n_out]))
    batch_mean, batch_var = tf.nn.moments(x, [0])
    ema = tf.train.ExponentialMovingAverage(decay=0.9)

    def mean_var_with_update():
        ema_apply_op = ema.apply([batch_mean, batch_var])   # built in the branch: runs only when training
        with tf.control_dependencies([ema_apply_op]):
            return tf.identity(batch_mean), tf.identity(batch_var)

    mean, var = tf.cond(phase_train, mean_var_with_update,
                        lambda: (ema.average(batch_mean), ema.average(batch_var)))
    return tf.nn.batch_normalization(x, mean, var, beta, gamma, 1e-3)


h = batch_norm(features, 64, phase_train)   # phase_train fed False at validation
""",
        not_flagged="""
An update created inside the branch function (directly or by a helper it calls); an update the other
branch waits on as well (it is meant to run always); an update used without any switch (a graph built
for training only, or a Python `if is_training:` that builds the update only in the training graph);
a `tf.cond` whose predicate is a constant, and a `smart_cond` whose predicate may be a Python bool (it
builds no cond: one branch function is called, the other never exists); an update whose averaged
statistics the waiting branch does not use (not a batch-statistics switch, e.g. an EMA of the weights);
a helper that nothing in its program calls or refers to (a leftover: library functions of the same
name, such as `slim.batch_norm`, do not count as calls).
""",
        versions=VERSIONS + " Also TF2 `tf.cond` (v2 `If`) and eager code, where the op outside the branch "
                            "runs when it is created.",
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if not any(module.mentions(w) for w in ("cond", "case")) or not any(module.mentions(w) for w in _BN_WORDS):
            return
        reported: set[int] = set()
        for c in module.calls:
            if c.name not in _SWITCHES:
                continue
            q = c.qualname or ""
            if c.name != "smart_cond" and not (q.startswith("tensorflow.") and q.endswith("." + c.name)):
                continue
            scopes = _Scopes(module, c.node)
            fns = [_branch_function(b, scopes) for b in _switch_branches(c.node, c.name)]
            if len(fns) < 2:
                continue
            waits = [self._waited_updates(fn, module) if fn is not None else None for fn in fns]
            for i, fn in enumerate(fns):
                if fn is None or not waits[i]:
                    continue
                for dep, anchor in waits[i]:
                    if isinstance(dep, ast.Name) and _binds(fn, dep.id):
                        continue  # built in the branch itself
                    inner = _Scopes(module, anchor)
                    got = _update_binding(dep, inner, module)
                    if got is None:
                        continue
                    update, averaged = got
                    key = ast.unparse(dep)
                    if any(j != i and (waits[j] is None or any(ast.unparse(d) == key for d, _ in waits[j]))
                           for j in range(len(fns))):
                        continue  # every path waits on it (or an unknown branch might)
                    if not self._returns_averaged(fn, averaged, waits[i], inner):
                        continue
                    stmt = module.statement_of(update)
                    if stmt is None or id(stmt) in reported \
                            or not _switches_at_run_time(c.node, c.name, module, project) \
                            or _never_used(module.scope_of(c.node), module, project):
                        continue
                    reported.add(id(stmt))
                    label = fn.name if isinstance(fn, _FUNCS) else "lambda"
                    switch = c.name if c.name == "smart_cond" else "tf." + c.name
                    yield self.finding(module, stmt, (
                        f"moving-average update `{key}` ({module.line_ref(stmt.lineno)}) is built outside the "
                        f"`{switch}` at {module.line_ref(c.node.lineno)} and only waited on inside its branch "
                        f"`{label}`: an op created outside a branch function is not part of that branch, so it runs "
                        "whenever the switch runs, whatever the predicate, and every evaluation run (training flag "
                        "False) folds its batches into the moving statistics; build the update inside the branch "
                        "function"))

    @staticmethod
    def _waited_updates(fn: ast.AST, module: Module) -> list[tuple[ast.AST, ast.AST]]:
        return [(d, anchor) for deps, anchor in _dependency_lists(fn, module) for d in _dependency_names(deps)]

    @staticmethod
    def _returns_averaged(fn: ast.AST, averaged: list[ast.AST], waits, scopes: "_Scopes") -> bool:
        """Does the waiting branch use a batch statistic the update averages (``batch_mean``, bound
        to ``tf.nn.moments(...)`` or a ``reduce_mean``): the switch chooses between batch statistics
        (with the update) and the averages?"""
        names = {n.id for a in averaged for n in astwalk.walk(a) if isinstance(n, ast.Name)}
        names = {n for n in names if _batch_statistic(n, scopes)}
        skip = {id(d) for d, _ in waits}
        body = fn.body if isinstance(fn, ast.Lambda) else fn
        return any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in names and id(n) not in skip
                   for n in astwalk.walk(body))
