"""Keras hand-written normalization layer whose moving-statistic update runs outside its training branch: BN209.

A custom ``keras.layers.Layer`` (ghost batch norm, batch renorm, a port of a paper's norm layer)
keeps its own moving mean / variance weights and chooses in ``call(inputs, training=None)``: batch
statistics when ``training`` is true, the moving ones otherwise. Keras never updates such weights by
itself: the layer's own ``self.moving_mean.assign(...)`` does, each time that statement runs. Keras 3
and TF2 tf.keras run it eagerly or inside the traced ``tf.function`` (automatic control
dependencies keep every stateful op), so an assignment that is not under the ``training`` test runs
on every call: ``model.evaluate`` / ``predict`` / ``model(x)`` fold the evaluated data into the
moving statistics the layer normalizes with.
"""
from __future__ import annotations

import ast
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint import keras_facts as kf
from bnguard.lint.finding import Finding
from bnguard.lint.imports import dotted
from bnguard.lint.project import Module, Project, is_test_file
from bnguard.lint.rules.base import Rule, RuleDoc, register
from bnguard.lint.rules.keras import KERAS_VERSIONS
from bnguard.lint.tf1_facts import identifier_words

_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
# Path facts about the training flag: known true, known false, depends on it in a way we cannot
# follow, nothing known.
_T, _F, _UNKNOWN, _NOINFO = "T", "F", "?", ""
_KNOWN = (_T, _F)
# Words naming a statistic weight (``moving_mean``, ``running_var``, ``pop_mean``, ``ema_std``) and
# words naming bookkeeping state that is not one (``num_batches_tracked``, ``step``).
_STAT_WORDS = frozenset({"mean", "means", "var", "vars", "variance", "variances", "std", "stddev", "sigma",
                         "mu", "moving", "running", "avg", "average", "ema", "stat", "stats", "statistics",
                         "cov", "covariance", "pop"})
_COUNTER_WORDS = frozenset({"count", "counts", "counter", "step", "steps", "iter", "iters", "iteration",
                            "iterations", "num", "tracked", "calls", "seen"})
# Calls that create a layer weight / variable.
_WEIGHT_MAKERS = frozenset({"add_weight", "add_variable", "Variable", "variable"})
# ``stat.assign(v)`` / ``tf.compat.v1.assign(stat, v)`` / ``assign_moving_average(stat, v, decay)`` /
# ``K.moving_average_update(stat, v, momentum)`` / ``K.update(stat, v)``.
_METHOD_UPDATES = frozenset({"assign", "assign_add", "assign_sub"})
_FUNCTION_UPDATES = frozenset({"assign", "assign_add", "assign_sub", "assign_moving_average",
                               "moving_average_update", "update", "update_add", "update_sub"})
# Words of a helper's name that say it updates the variable it is handed.
_UPDATE_HELPER_WORDS = frozenset({"assign", "update", "average", "ema", "moving", "momentum", "accumulate"})
# Branch switches: (predicate position, true-branch position, false-branch position).
_SWITCHES = {"cond": (0, 1, 2), "smart_cond": (0, 1, 2), "switch": (0, 1, 2), "where": (0, 1, 2),
             "select": (0, 1, 2)}
_SWITCH_KEYWORDS = {"pred": 0, "condition": 0, "true_fn": 1, "then_expression": 1, "x": 1, "false_fn": 2,
                    "else_expression": 2, "y": 2}
# Wrappers that keep a flag's truth: ``tf.cast(training, tf.bool)``, ``bool(training)``.
_TRUTH_KEEPING = frozenset({"cast", "bool", "convert_to_tensor", "constant", "identity", "squeeze",
                            "get_static_value", "constant_value"})


def _combine(cur: str, fact: str) -> str:
    if not fact:
        return cur
    if not cur or fact in _KNOWN:
        return fact
    return cur if cur in _KNOWN else _UNKNOWN


def _exits(stmts: list) -> bool:
    if not stmts:
        return False
    last = stmts[-1]
    if isinstance(last, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
        return True
    if isinstance(last, ast.If):
        return _exits(last.body) and bool(last.orelse) and _exits(last.orelse)
    return False


def _self_attr(expr: ast.AST) -> Optional[str]:
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        return expr.attr
    return None


def _callee_name(call: ast.Call) -> Optional[str]:
    f = call.func
    return f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else None


def _is_flag_name(name: str) -> bool:
    words = identifier_words(name)
    return "training" in words or "train" in words


def _is_stat_name(name: str) -> bool:
    words = set(identifier_words(name))
    return bool(words & _STAT_WORDS) and not words & _COUNTER_WORDS


def _updating_classes(project: Project, module: Module) -> set[int]:
    """Ids of the classes of ``module`` with a method that updates one of the instance's own
    attributes (``self.x.assign(...)``, ``assign_moving_average(self.x, ...)``): one pass over the
    module's call index, memoised per module."""
    memo: dict = project.fact("keras.bn209.updating_classes", lambda p: {})  # type: ignore[assignment]
    found = memo.get(id(module))
    if found is None:
        found = set()
        if module.mentions("assign") or module.mentions("moving_average_update") or module.mentions("update"):
            for c in module.calls:
                if not c.name:
                    continue
                call = c.node
                if c.name in _FUNCTION_UPDATES:
                    target = call.func.value if isinstance(call.func, ast.Attribute) and c.name in _METHOD_UPDATES \
                        else call.args[0] if call.args else None
                    hit = target is not None and _self_attr(target) is not None
                else:  # ``self._assign_moving_average(self.moving_mean, ...)``: a helper that updates its argument
                    hit = bool(_UPDATE_HELPER_WORDS.intersection(identifier_words(c.name))) and any(
                        _self_attr(a) and _is_stat_name(_self_attr(a)) for a in call.args)  # type: ignore[arg-type]
                if hit:
                    cls = module.enclosing_class(call)
                    if cls is not None:
                        found.add(id(cls))
        memo[id(module)] = found
    return found


def _is_keras_class(project: Project, module: Module, cls: ast.ClassDef, depth: int = 0) -> bool:
    if depth > 3:
        return False
    for b in cls.bases:
        if kf.keras_name(module.imports.resolve(b) or dotted(b)):
            return True
        bmod, base = kf.resolve_def_in(project, module, b)
        if isinstance(base, ast.ClassDef) and bmod is not None and _is_keras_class(project, bmod, base, depth + 1):
            return True
    return False


def _class_chain(project: Project, module: Module, cls: ast.ClassDef) -> list[tuple[Module, ast.ClassDef]]:
    """The class and its project base classes (three levels), nearest first."""
    out, todo = [], [(module, cls, 0)]
    while todo:
        m, c, d = todo.pop(0)
        if any(c is k for _, k in out):
            continue
        out.append((m, c))
        if d < 3:
            for b in c.bases:
                bmod, base = kf.resolve_def_in(project, m, b)
                if isinstance(base, ast.ClassDef) and bmod is not None:
                    todo.append((bmod, base, d + 1))
    return out


def _statistic_weights(project: Project, module: Module, cls: ast.ClassDef) -> set[str]:
    """Attributes the class (or a project base) creates as non-trainable-or-unspecified weights with a
    statistic's name, plus the moving statistics a Keras BatchNormalization base creates."""
    out: set[str] = set()
    for m, c in _class_chain(project, module, cls):
        for b in c.bases:
            if kf.is_keras_bn_layer(m.imports.resolve(b) or dotted(b)):
                out |= {"moving_mean", "moving_variance"}
        for fn in c.body:
            if not isinstance(fn, _FUNCS):
                continue
            for n in astwalk.walk(fn):
                if not isinstance(n, ast.Assign) or not isinstance(n.value, ast.Call):
                    continue
                if _callee_name(n.value) not in _WEIGHT_MAKERS:
                    continue
                trainable = kf.kwarg(n.value, "trainable")
                if isinstance(trainable, ast.Constant) and trainable.value is True:
                    continue
                for t in n.targets:
                    attr = _self_attr(t)
                    if attr and _is_stat_name(attr):
                        out.add(attr)
    return out


class _Env:
    """The training flags of one function: its flag parameters and the locals derived from them."""

    def __init__(self, module: Module, fn: ast.AST, flags: set[str], data: set[str],
                 stat_params: Optional[dict[str, str]] = None, parent: Optional["_Env"] = None):
        self.module = module
        self.flags = set(flags) | (parent.flags if parent is not None else set())
        self.aliases: dict[str, Optional[ast.expr]] = dict(parent.aliases) if parent is not None else {}
        # the lines where an alias gets a flag-dependent value (a later reassignment, e.g. the
        # statistics chosen by ``smart_cond(training, ...)``, says nothing about earlier uses)
        self.alias_lines: dict[str, list[int]] = dict(parent.alias_lines) if parent is not None else {}
        self.defs: dict[str, ast.AST] = dict(parent.defs) if parent is not None else {}
        # names that hold the call's input data or values computed from it
        self.data = set(data) | (parent.data if parent is not None else set())
        # parameters bound to one of the layer's statistic weights (``def _update(var, value)``)
        self.stat_params = {**(parent.stat_params if parent is not None else {}), **(stat_params or {})}
        sources: list[tuple[list[str], ast.AST]] = []
        assigned: dict[str, list[tuple[int, Optional[ast.expr], ast.expr]]] = {}
        for n in astwalk.walk(fn):
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    for name in ([t] if isinstance(t, ast.Name) else
                                 [e for e in t.elts if isinstance(e, ast.Name)] if isinstance(t, (ast.Tuple, ast.List))
                                 else []):
                        assigned.setdefault(name.id, []).append(
                            (n.lineno, n.value if isinstance(t, ast.Name) else None, n.value))
                sources.append(([x.id for t in n.targets for x in astwalk.walk(t) if isinstance(x, ast.Name)], n.value))
            elif isinstance(n, (ast.AugAssign, ast.AnnAssign)) and n.value is not None:
                sources.append(([x.id for x in astwalk.walk(n.target) if isinstance(x, ast.Name)], n.value))
            elif isinstance(n, (ast.For, ast.AsyncFor, ast.comprehension)):
                sources.append(([x.id for x in astwalk.walk(n.target) if isinstance(x, ast.Name)], n.iter))
        changed = bool(self.data)
        while changed:
            changed = False
            for names, value in sources:
                if not set(names) <= self.data and self.feeds(value):
                    self.data.update(names)
                    changed = True
        changed = True
        while changed:
            changed = False
            for name, values in assigned.items():
                if name in self.flags or name in self.aliases:
                    continue
                if any(self.mentions(rhs) for _, _, rhs in values):
                    self.aliases[name] = values[0][1] if len(values) == 1 else None
                    changed = True
        for name, values in assigned.items():
            if name in self.aliases and name not in self.flags:
                self.alias_lines[name] = [line for line, _, rhs in values if self.mentions(rhs)]

    def feeds(self, expr: ast.AST) -> bool:
        """Does ``expr`` read the input data (or a value computed from it)?"""
        return any(isinstance(n, ast.Name) and n.id in self.data for n in astwalk.walk(expr))

    def mentions(self, expr: ast.AST, before: Optional[int] = None) -> bool:
        """Does ``expr`` read the training flag (or a value derived from it; with ``before``, one
        given its flag-dependent value on an earlier line)?"""
        for n in astwalk.walk(expr):
            if isinstance(n, ast.Name):
                if n.id in self.flags:
                    return True
                if n.id in self.aliases and (before is None or any(
                        line < before for line in self.alias_lines.get(n.id, (0,)))):
                    return True
        return False

    def polarity(self, test: ast.AST, seen: frozenset = frozenset()) -> tuple[str, str]:
        """(what the flag is when ``test`` is true, what it is when it is false)."""
        if isinstance(test, ast.Name):
            if test.id in self.flags:
                return _T, _F
            if test.id in self.aliases:
                value = self.aliases[test.id]
                if value is None or test.id in seen:
                    return _UNKNOWN, _UNKNOWN
                return self.polarity(value, seen | {test.id})
            return _NOINFO, _NOINFO
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            pos, neg = self.polarity(test.operand, seen)
            return neg, pos
        if isinstance(test, ast.BoolOp):
            parts = [self.polarity(v, seen) for v in test.values]
            mentioned = any(p or n for p, n in parts)
            # ``a and b`` true: both true; false: either false (and dually for ``or``)
            every = [p for p, _ in parts] if isinstance(test.op, ast.And) else [n for _, n in parts]
            either = [n for _, n in parts] if isinstance(test.op, ast.And) else [p for p, _ in parts]
            strong = _T if _T in every else _F if _F in every else _UNKNOWN if mentioned else _NOINFO
            weak = either[0] if either[0] in _KNOWN and all(e == either[0] for e in either) else \
                _UNKNOWN if mentioned else _NOINFO
            return (strong, weak) if isinstance(test.op, ast.And) else (weak, strong)
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, right, op = test.left, test.comparators[0], test.ops[0]
            if isinstance(left, ast.Constant):
                left, right = right, left
            if self.mentions(left) and not self.mentions(right):
                pos, neg = self.polarity(left, seen)
                if pos == _T and neg == _F:
                    if isinstance(right, ast.Constant) and right.value is not None:
                        truthy = bool(right.value)
                        if isinstance(op, (ast.Is, ast.Eq)):
                            return (_T, _UNKNOWN) if truthy else (_F, _UNKNOWN)
                        if isinstance(op, (ast.IsNot, ast.NotEq)):
                            return (_UNKNOWN, _T) if truthy else (_UNKNOWN, _F)
                    if isinstance(op, (ast.In, ast.NotIn)) and isinstance(right, (ast.Tuple, ast.Set, ast.List)) \
                            and right.elts and all(isinstance(e, ast.Constant) and not e.value and e.value is not None
                                                   for e in right.elts):
                        return (_F, _UNKNOWN) if isinstance(op, ast.In) else (_UNKNOWN, _F)
                return _UNKNOWN, _UNKNOWN
        if isinstance(test, ast.Call) and _callee_name(test) in _TRUTH_KEEPING and test.args:
            return self.polarity(test.args[0], seen)
        return (_UNKNOWN, _UNKNOWN) if self.mentions(test) else (_NOINFO, _NOINFO)


class _LayerCall:
    """Walks a layer's ``call`` (and the helpers it runs) recording, with the training-flag fact on
    the path to each: the updates of the statistic weights and the reads of them."""

    def __init__(self, project: Project, module: Module, cls: ast.ClassDef, stats: set[str]):
        self.project, self.module, self.cls, self.stats = project, module, cls, stats
        self.chain = _class_chain(project, module, cls)
        self.tested = False
        # (update call, report node, statistic, flag fact on its path, guarded by its value)
        self.updates: list[tuple[ast.Call, ast.AST, str, str, bool]] = []
        self.reads: list[tuple[str, str]] = []
        self._active: set[int] = set()

    def run(self, fn: ast.AST, flags: set[str]) -> None:
        a = fn.args  # type: ignore[attr-defined]
        data = {p.arg for p in (a.posonlyargs + a.args)[1:] + a.kwonlyargs if p.arg not in flags}
        self._function(fn, _Env(self.module, fn, flags, data), _NOINFO, None, 0)

    def _method(self, name: str) -> Optional[tuple[Module, ast.AST]]:
        for m, c in self.chain:
            for f in c.body:
                if isinstance(f, _FUNCS) and f.name == name:
                    return m, f
        return None

    def _function(self, fn: ast.AST, env: _Env, fact: str, anchor: Optional[ast.AST], depth: int) -> None:
        key = id(fn)
        if key in self._active:
            return
        self._active.add(key)
        try:
            self._block(fn.body, fact, env, anchor, depth)  # type: ignore[attr-defined]
        finally:
            self._active.discard(key)

    def _block(self, stmts: list, fact: str, env: _Env, anchor, depth: int) -> None:
        for s in stmts:
            self._stmt(s, fact, env, anchor, depth)
            if isinstance(s, (ast.Return, ast.Raise, ast.Continue, ast.Break)):
                return
            if isinstance(s, ast.If):
                pos, neg = env.polarity(s.test)
                body_exits, else_exits = _exits(s.body), bool(s.orelse) and _exits(s.orelse)
                if body_exits and else_exits:
                    return
                if body_exits:
                    fact = _combine(fact, neg)
                elif else_exits:
                    fact = _combine(fact, pos)

    def _stmt(self, s: ast.stmt, fact: str, env: _Env, anchor, depth: int) -> None:
        if isinstance(s, ast.If):
            pos, neg = env.polarity(s.test)
            if pos or neg:
                self.tested = True
            self._expr(s.test, fact, env, anchor, depth)
            self._block(s.body, _combine(fact, pos), env, anchor, depth)
            self._block(s.orelse, _combine(fact, neg), env, anchor, depth)
        elif isinstance(s, (ast.For, ast.AsyncFor, ast.While)):
            self._expr(s.iter if not isinstance(s, ast.While) else s.test, fact, env, anchor, depth)
            self._block(s.body, fact, env, anchor, depth)
            self._block(s.orelse, fact, env, anchor, depth)
        elif isinstance(s, (ast.With, ast.AsyncWith)):
            for item in s.items:
                self._expr(item.context_expr, fact, env, anchor, depth)
            self._block(s.body, fact, env, anchor, depth)
        elif isinstance(s, ast.Try) or type(s).__name__ == "TryStar":
            self._block(s.body, fact, env, anchor, depth)  # type: ignore[attr-defined]
            for h in s.handlers:  # type: ignore[attr-defined]
                self._block(h.body, _combine(fact, _UNKNOWN), env, anchor, depth)
            self._block(s.orelse, fact, env, anchor, depth)  # type: ignore[attr-defined]
            self._block(s.finalbody, fact, env, anchor, depth)  # type: ignore[attr-defined]
        elif isinstance(s, _FUNCS):
            env.defs[s.name] = s  # runs where it is called or handed to a switch
        elif isinstance(s, ast.ClassDef):
            return
        else:
            for child in ast.iter_child_nodes(s):
                if isinstance(child, ast.expr):
                    self._expr(child, fact, env, anchor, depth)
                elif isinstance(child, ast.stmt):
                    self._block([child], _combine(fact, _UNKNOWN), env, anchor, depth)

    def _branch(self, arg: ast.AST, fact: str, env: _Env, anchor, depth: int) -> None:
        if isinstance(arg, ast.Lambda):
            self._expr(arg.body, fact, env, anchor, depth)
        elif isinstance(arg, ast.Name) and arg.id in env.defs:
            self._nested(env.defs[arg.id], None, fact, env, anchor, depth)
        elif _self_attr(arg) and depth < 3 and self._method(_self_attr(arg)) is not None:  # type: ignore[arg-type]
            self._helper(self._method(_self_attr(arg)), None, fact, env, anchor, depth)  # type: ignore[arg-type]
        else:
            self._expr(arg, fact, env, anchor, depth)

    def _bind(self, hfn: ast.AST, call: Optional[ast.Call], env: _Env,
              method: bool) -> tuple[set[str], set[str], dict[str, str]]:
        """The flag, data and statistic parameters of ``hfn`` at ``call``."""
        args = hfn.args  # type: ignore[attr-defined]
        params = [a.arg for a in args.posonlyargs + args.args][1 if method else 0:]
        flags = {p for p in params + [a.arg for a in args.kwonlyargs] if _is_flag_name(p)}
        data: set[str] = set()
        stat_params: dict[str, str] = {}
        if call is not None:
            pairs = list(zip(params, call.args)) + [(k.arg, k.value) for k in call.keywords if k.arg]
            for p, a in pairs:
                stat = self._stat_of(a, env)
                if stat is not None:
                    stat_params[p] = stat
                elif env.mentions(a, before=call.lineno):
                    flags.add(p)
                elif env.feeds(a):
                    data.add(p)
        return flags, data, stat_params

    def _stat_of(self, expr: ast.AST, env: _Env) -> Optional[str]:
        attr = _self_attr(expr)
        if attr in self.stats:
            return attr
        if isinstance(expr, ast.Name):
            return env.stat_params.get(expr.id)
        return None

    def _nested(self, fn: ast.AST, call: Optional[ast.Call], fact: str, env: _Env, anchor, depth: int) -> None:
        flags, data, stat_params = self._bind(fn, call, env, method=False)
        self._function(fn, _Env(env.module, fn, flags, data, stat_params, parent=env), fact, anchor, depth)

    def _helper(self, found: tuple[Module, ast.AST], call: Optional[ast.Call], fact: str, env: _Env,
                anchor, depth: int, method: bool = True) -> None:
        hmod, hfn = found
        flags, data, stat_params = self._bind(hfn, call, env, method)
        if hmod is not self.module and anchor is None:
            anchor = call if call is not None else hfn
        self._function(hfn, _Env(hmod, hfn, flags, data, stat_params), fact, anchor, depth + 1)

    def _update_target(self, call: ast.Call, env: _Env) -> Optional[str]:
        f = call.func
        if isinstance(f, ast.Attribute) and f.attr in _METHOD_UPDATES:
            attr = self._stat_of(f.value, env)
            if attr is not None:
                return attr
        name = _callee_name(call)
        if name in _FUNCTION_UPDATES and call.args:
            attr = self._stat_of(call.args[0], env)
            if attr is not None and not (isinstance(f, ast.Attribute) and _self_attr(f) is not None):
                return attr
        return None

    def _expr(self, node: ast.AST, fact: str, env: _Env, anchor, depth: int) -> None:
        if isinstance(node, ast.IfExp):
            pos, neg = env.polarity(node.test)
            if pos or neg:
                self.tested = True
            self._expr(node.test, fact, env, anchor, depth)
            self._expr(node.body, _combine(fact, pos), env, anchor, depth)
            self._expr(node.orelse, _combine(fact, neg), env, anchor, depth)
            return
        if isinstance(node, ast.Lambda):
            self._expr(node.body, _combine(fact, _UNKNOWN), env, anchor, depth)
            return
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            attr = _self_attr(node)
            if attr in self.stats:
                self.reads.append((attr, fact))  # type: ignore[arg-type]
                return
        if isinstance(node, ast.Call):
            if self._call(node, fact, env, anchor, depth):
                return
        for child in ast.iter_child_nodes(node):
            self._expr(child, fact, env, anchor, depth)

    def _call(self, call: ast.Call, fact: str, env: _Env, anchor, depth: int) -> bool:
        """Handle a call; True when its parts need no generic walk."""
        name = _callee_name(call)
        if name == "add_update":
            return True  # Keras 2 graph mode runs collected updates in fit only: not followed
        attr = self._update_target(call, env)
        if attr is not None:
            rest = [a for a in call.args if self._stat_of(a, env) != attr] + [k.value for k in call.keywords]
            # silent when the value depends on the flag, or is not computed from the input data
            # (statistics derived lazily from other weights)
            guarded = any(env.mentions(a, before=call.lineno) for a in rest) or not any(env.feeds(a) for a in rest)
            self.updates.append((call, anchor if anchor is not None else call, attr, fact, guarded))
            return True
        if name in ("in_train_phase", "in_test_phase") and call.args:
            pred = kf.kwarg(call, "training") or (call.args[2] if len(call.args) > 2 else None)
            pos, neg = env.polarity(pred) if pred is not None else (_T, _F)
            if name == "in_test_phase":
                pos, neg = neg, pos
            if pos or neg:
                self.tested = True
            self._branch(call.args[0], _combine(fact, pos), env, anchor, depth)
            if len(call.args) > 1:
                self._branch(call.args[1], _combine(fact, neg), env, anchor, depth)
            return True
        if name in _SWITCHES:
            slots: dict[int, ast.AST] = {i: a for i, a in enumerate(call.args[:3])}
            for k in call.keywords:
                if k.arg in _SWITCH_KEYWORDS:
                    slots.setdefault(_SWITCH_KEYWORDS[k.arg], k.value)
            pred = slots.get(0)
            if pred is not None and env.mentions(pred):
                pos, neg = env.polarity(pred)
                self.tested = True
                self._expr(pred, fact, env, anchor, depth)
                if 1 in slots:
                    self._branch(slots[1], _combine(fact, pos), env, anchor, depth)
                if 2 in slots:
                    self._branch(slots[2], _combine(fact, neg), env, anchor, depth)
                return True
        f = call.func
        if isinstance(f, ast.Name) and f.id in env.defs:
            for a in list(call.args) + [k.value for k in call.keywords]:
                self._expr(a, fact, env, anchor, depth)
            self._nested(env.defs[f.id], call, fact, env, anchor, depth)
            return True
        method = _self_attr(f)
        if method and method not in self.stats and depth < 3:
            found = self._method(method)
            if found is not None:
                for a in list(call.args) + [k.value for k in call.keywords]:
                    self._expr(a, fact, env, anchor, depth)
                self._helper(found, call, fact, env, anchor, depth)
                return True
        args = list(call.args) + [k.value for k in call.keywords]
        if depth < 3 and not method and any(self._stat_of(a, env) is not None for a in args):
            hmod, hfn = kf.resolve_def_in(self.project, env.module, f)  # ``ema_update(self.moving_mean, m)``
            if isinstance(hfn, _FUNCS) and hmod is not None:
                for a in args:
                    if self._stat_of(a, env) is None:
                        self._expr(a, fact, env, anchor, depth)
                self._helper((hmod, hfn), call, fact, env, anchor, depth, method=False)
                return True
        return False


@register
class StatisticUpdateOutsideTrainingBranch(Rule):
    code = "BN209"
    name = "custom-bn-update-outside-training-branch"
    framework = "keras"
    summary = ("A custom Keras normalization layer chooses batch or moving statistics by `training` but assigns "
               "its moving statistics on a path that does not require training: evaluation updates them.")
    triggers = ("def call",)  # the reported module defines the layer's call
    doc = RuleDoc(
        what="""
Finds a hand-written normalization layer (a `keras.layers.Layer` / `tf.keras` subclass: ghost batch
norm, batch renorm, a port of a paper's norm layer) whose `call(inputs, training=None)` reads
`training` to choose between batch statistics and its own moving-statistic weights (created with
`add_weight(..., trainable=False)` / `tf.Variable`, named like `moving_mean`, `running_var`,
`pop_mean`), and reads the moving statistics on the inference path (an `else` branch, after an
`if training: return ...`, the false branch of `ops.cond` / `tf.cond` / `smart_cond` /
`K.in_train_phase`), but assigns them (`self.moving_mean.assign(...)`, `assign_sub`, `assign_add`,
`tf.compat.v1.assign`, `assign_moving_average`, `K.moving_average_update`, or a project helper
handed the weight: `self._assign_moving_average(self.moving_mean, mean)`, `ema_update(self.mean_ema,
mean, 0.98)`) with a value computed from the input batch, on a path that does not require `training`
to be true: before or after the `if training:` branch, in its `else`, or in a helper (a method of the
class or of a project base class, a nested function, a project function) called there. Reported at
the first such assignment (at the helper call when the helper lives in another module).
""",
        why="""
Keras never updates a custom layer's weights by itself: the layer's own assignment does, every time
the statement runs. Keras 3 (every backend) and TF2 tf.keras run `call` eagerly or in a traced
`tf.function` whose automatic control dependencies keep every stateful op, so an assignment outside
the `training` test runs on each call, including `model.evaluate`, `predict` and `model(x)` with
`training=False`. The validation / test batches are folded into the moving statistics that the
layer normalizes with at inference (measured with Keras 3.15: a ghost-BN layer whose update precedes
its `if training:` moves its moving mean during `evaluate` on a shifted hold-out split; with the
update inside the branch it does not).
""",
        example="""
class GhostBN(keras.layers.Layer):
    def build(self, shape):
        self.moving_mean = self.add_weight(shape=shape[-1:], initializer="zeros", trainable=False)
        self.moving_var = self.add_weight(shape=shape[-1:], initializer="ones", trainable=False)

    def call(self, x, training=None):
        mean, var = ops.mean(x, axis=0), ops.var(x, axis=0)
        self.moving_mean.assign(0.9 * self.moving_mean + 0.1 * mean)
        if training:
            return (x - mean) * ops.rsqrt(var + 1e-5)
        return (x - self.moving_mean) * ops.rsqrt(self.moving_var + 1e-5)
""",
        use_instead="""
        if training:
            self.moving_mean.assign(0.9 * self.moving_mean + 0.1 * mean)
            return (x - mean) * ops.rsqrt(var + 1e-5)
""",
        not_flagged="""
- updates under `if training:` (or its `else` of `if not training:`), after an early
  `if not training: return ...`, inside the true branch of `ops.cond` / `tf.cond` / `smart_cond`
  / `K.in_train_phase`, or in a helper called only there;
- updates whose value depends on `training` (`momentum = ops.where(training, m, 1.0)`, batch
  statistics replaced by the moving ones when not training) or is not computed from the input
  batch (a covariance derived lazily from other weights at inference), and tests of `training` we
  cannot follow (`if training or self.adapt:`, test-time adaptation on purpose);
- layers without training-dependent statistics (always-updating running normalizers, monitors),
  layers that never read the moving statistics at inference, and state that is no statistic
  (counters, step variables);
- updates handed to `self.add_update(...)` (Keras 2 graph mode runs them only in `fit`), and test
  files.
""",
        versions=KERAS_VERSIONS,
    )

    def check(self, module: Module, project: Project) -> Iterable[Finding]:
        if is_test_file(module.path) or not module.classes or not kf.uses_keras(module):
            return
        if not module.mentions("def call") or not module.mentions("train"):
            return
        for cls in module.classes:
            fn = next((f for f in cls.body if isinstance(f, _FUNCS) and f.name == "call"), None)
            if fn is None:
                continue
            a = fn.args
            flags = {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs if _is_flag_name(p.arg)}
            if not flags:
                continue
            if id(cls) not in _updating_classes(project, module) and not any(
                    id(c) in _updating_classes(project, m) for m, c in _class_chain(project, module, cls)[1:]):
                continue  # neither the class nor a project base assigns one of its own attributes
            if not _is_keras_class(project, module, cls):
                continue
            stats = _statistic_weights(project, module, cls)
            if not stats:
                continue
            walk = _LayerCall(project, module, cls, stats)
            walk.run(fn, flags)
            if not walk.tested or not any(f == _F for _, f in walk.reads):
                continue  # no training-dependent choice of the moving statistics
            bad = [u for u in walk.updates if u[3] in (_NOINFO, _F) and not u[4]]
            if not bad:
                continue
            call, node, attr, fact, _ = min(bad, key=lambda u: (u[1].lineno, u[1].col_offset))
            flag = sorted(flags)[0]
            where = ("only when it is false" if fact == _F else "whatever its value")
            via = "" if node is call else f" (through `{ast.unparse(node)[:60]}`)"
            yield self.finding(module, node, (
                f"`{cls.name}.call` chooses batch or moving statistics by `{flag}` but assigns its moving "
                f"statistic `self.{attr}` (`{ast.unparse(call)[:70]}`){via} on a path that runs {where}: "
                "every inference call (`model.evaluate`, `predict`, `model(x)`) folds the evaluated batches "
                f"into `self.{attr}`, which the layer then normalizes with; move the update under "
                f"`if {flag}:` (or into the training branch of the cond)"))
