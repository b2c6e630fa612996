"""Model-mode flow for the PyTorch rules: which ``eval()`` / ``train()`` / optimizer steps happen,
in which order, on which object, through project calls and loops.

A function's *summary* is the ordered list of mode events its body produces, with the events of
the project functions it calls inlined at the call (arguments bound to parameters). Events keep
the loops and ``if`` tests that enclose them, so a rule can ask "inside this loop, does an
``eval()`` reach the next optimizer step without a ``train()`` in between, wrapping around to the
next iteration?".

Objects are named by *keys*: the receiver's dotted name without ``self.`` and ``.module``
(DataParallel), aliases followed, parameters replaced by the caller's argument. Two keys may
denote the same model when they share a component (``self.model`` / ``model`` / ``model.backbone``);
an unknown key (``None``) may denote anything. The analysis is may-analysis: any ``train()`` that
may run counts as restoring the mode, any ``eval()`` that may run counts as leaving it, because a
false alarm is worse than a missed bug.
"""
from __future__ import annotations

import ast
import copy
import functools
import re
from dataclasses import dataclass, replace
from typing import Optional, Sequence

from bnguard.lint import astwalk
from bnguard.lint.imports import dotted
from bnguard.lint.memo import per_node
from bnguard.lint.project import FuncNode, FunctionInfo, Module, Project, call_assignments
from bnguard.lint.values import always_false_values, always_true_values, possible_values, resolver

Key = Optional[tuple[str, ...]]  # components; a parameter head is "$name"; None = unknown object
MAX_EVENTS = 4000
MAX_DEPTH = 6

# Receivers whose ``.step()`` is an optimizer step. Schedulers, environments and samplers also
# have ``step()``, so the name decides.
_OPTIMIZER_NAME = re.compile(r"opt", re.I)
_NOT_OPTIMIZER = re.compile(r"sched|lr_|warmup|env|swa|ema|sampler|progress|pbar|bar|writer|logger", re.I)
_SCALER_NAME = re.compile(r"scaler", re.I)
LOOP_TYPES = (ast.For, ast.AsyncFor, ast.While)
# Bases that leave a class plain, as if it had none (not an nn.Module): ``class Learner(object):``.
PLAIN_BASES = frozenset({"object", "builtins.object", "abc.ABC", "ABC", "typing.Generic", "Generic"})
# Module methods that return the module itself (``model.to(device).eval()``).
_SAME_OBJECT_METHODS = {"to", "cuda", "cpu", "float", "half", "double", "bfloat16", "train", "eval",
                        "requires_grad_", "to_empty", "type", "apply", "share_memory", "xpu", "ipu", "mps"}


# ``if`` tests that select BatchNorm layers: ``isinstance(m, nn.BatchNorm2d)``,
# ``classname.find('BatchNorm') != -1``, ``'bn' in name``.
_BN_GUARD = re.compile(r"batch_?norm|\bbn\d*\b", re.I)
# Iterators over a module's sub-modules (``for m in model.modules()``).
_SUBMODULE_ITERATORS = frozenset({"modules", "named_modules", "children", "named_children"})
# Leaf layer classes of torch.nn that are no BatchNorm and hold none: ``m.train()`` of the
# sub-modules of these types (Monte-Carlo dropout's ``if isinstance(m, nn.Dropout): m.train()``)
# leaves every BatchNorm layer in the mode it had.
_NON_BN_LEAF = re.compile(
    r"^(\w*Dropout\d*d?|Linear|Bilinear|LazyLinear|Conv\w*|LazyConv\w*|LayerNorm|GroupNorm|InstanceNorm\w*|"
    r"LocalResponseNorm|Embedding\w*|RNN|LSTM|GRU|RNNCell|LSTMCell|GRUCell|MultiheadAttention)$")


@dataclass(frozen=True)
class Event:
    # "eval" | "train" | "step" | "bnfreeze": the BatchNorm layers of ``key`` (or the frozen
    # sub-module ``key`` itself) deliberately put in eval mode | "bnfreeze?": the same, by a callee
    # the call may or may not run (it may restore a freeze, never prove one) | "unfreeze": the
    # parameters of ``key`` made trainable again (recorded only where ``freezes_with_eval`` holds)
    kind: str
    key: Key
    text: str  # receiver source in the terms of the function whose summary holds the event
    sites: tuple[tuple[Module, ast.AST], ...]  # call sites from the outermost function down; last = the event call
    loops: tuple[ast.AST, ...] = ()  # enclosing loop statements, outermost first
    guards: tuple[tuple[str, bool], ...] = ()  # enclosing ``if`` tests (source, branch taken)
    # "train" of a name rebound to a newly built module (``net = Net()``): a new module starts in
    # train mode, so an earlier eval() of that name no longer applies. Only meaningful where the
    # name is known: seen from a caller that cannot name it, the event is dropped.
    fresh: bool = False
    # the early ``return`` statements before the event in its functions (a return inside the batch
    # loop of validate() skips the train() at its end): (return node, its module, the ``if`` tests
    # around it, "" in the function that holds it, else the id of the call it is seen through)
    exits: tuple[tuple[ast.AST, Module, tuple[tuple[str, bool], ...], str], ...] = ()

    @property
    def node(self) -> ast.AST:
        return self.sites[-1][1]

    @property
    def module(self) -> Module:
        return self.sites[-1][0]


# Last key component of ``model[1]`` / ``net[-1]``: an element of a container module (a sub-module,
# like ``model.backbone``), not the whole object. Not a name.
ELEMENT = "[]"


# Last key component of ``n`` in ``for n in nets: n.eval()`` where ``nets`` is a parameter: each
# element of what the caller passes (a list literal there is expanded into its elements).
EACH = "[*]"


# Key head of the object a function returns built in its ``return`` statement (``return
# SegNet(encoder, n)``): the callee's own unless the caller assigns the result (``_returned_binding``).
RETURNED = "%%<return>"
# Key head of a module built as an argument of another call (``SegNet(Encoder(frozen_bn=True), n)``).
NEW = "%%<new>"


def key_names(key: Key) -> set[str]:
    return {c.lstrip("$%") for c in key if c not in (ELEMENT, EACH)} if key else set()


def same_object(a: Key, b: Key) -> bool:
    """May ``a`` and ``b`` denote the same module (or one contain the other)?"""
    if a is None or b is None:
        return True
    return bool(key_names(a) & key_names(b))


def receiver_key(expr: ast.AST, aliases: dict[str, tuple[Key, str]], params: set[str],
                 local_names: frozenset = frozenset()) -> tuple[Key, str]:
    """Key and source text of a receiver expression (``self.model.module`` -> ("model",)). A name
    bound inside the function (``local_names``) is marked "%": seen from a caller it is unknown
    (the flow marks it "%%" when it only ever holds a module built there: none of the caller's)."""
    d = dotted(expr)
    element: tuple[str, ...] = ()
    if d is None:
        # model.to(device).eval(), nets[0].eval(): look through calls/subscripts to the base name
        # (a call that returns another object, get_eval_model(), stays unknown)
        base = expr
        while isinstance(base, (ast.Call, ast.Subscript)):
            if isinstance(base, ast.Subscript):
                if base is expr and _constant_index(base.slice):
                    element = (ELEMENT,)  # model[1].eval(): one layer of a Sequential
                base = base.value
            elif isinstance(base.func, ast.Attribute) and base.func.attr in _SAME_OBJECT_METHODS:
                base = base.func.value
            else:
                return None, ""
        d = dotted(base)
        if d is None:
            return None, ""
    parts = d.split(".")
    text = d
    head = parts[0]
    if head in aliases:
        key, alias_text = aliases[head]
        if key is None:
            return None, ""
        rest = [p for p in parts[1:] if p != "module"]
        return key + tuple(rest) + element, ".".join([alias_text] + parts[1:])
    # ``model.module`` (DataParallel / DDP) is the model; a head named ``module`` is a variable
    comps = parts[:1] + [p for p in parts[1:] if p != "module"]
    if comps and comps[0] == "self":
        comps = comps[1:] if len(comps) > 1 else ["$self"]
    elif comps and comps[0] in params:
        comps[0] = "$" + comps[0]
    elif comps and comps[0] in local_names:
        comps[0] = "%" + comps[0]
    return ((tuple(comps) + element) if comps else None), text


def _constant_index(index: ast.AST) -> bool:
    """``[1]`` / ``[-1]``: a fixed position (a layer); ``[i]`` over a list of models is not."""
    if isinstance(index, ast.UnaryOp) and isinstance(index.op, ast.USub):
        index = index.operand
    return isinstance(index, ast.Constant) and isinstance(index.value, int)


def is_optimizer_step(call: ast.Call, module: Optional[Module] = None) -> bool:
    f = call.func
    if isinstance(f, ast.Attribute) and f.attr == "update" and module is not None and _nnx_update(call, module):
        return True
    if not (isinstance(f, ast.Attribute) and f.attr == "step"):
        return False
    name = dotted(f.value) or ""
    last = name.rsplit(".", 1)[-1]
    if _SCALER_NAME.search(last):
        return True  # GradScaler.step(optimizer)
    return bool(_OPTIMIZER_NAME.search(last)) and not _NOT_OPTIMIZER.search(last)


def stepped_optimizer(call: ast.Call) -> ast.AST:
    """The optimizer an optimizer step (``is_optimizer_step``) steps: ``opt`` of ``opt.step()``, the
    argument of ``scaler.step(opt)``."""
    f = call.func
    return call.args[0] if _SCALER_NAME.search(dotted(f.value) or "") and call.args else f.value  # type: ignore[attr-defined]


def _nnx_update(call: ast.Call, module: Module) -> bool:
    """``optimizer.update(model, grads)`` / ``optimizer.update(grads)`` of a Flax NNX optimizer: a
    statement of its own (optax's ``tx.update(grads, state)`` returns new updates and is assigned)."""
    name = (dotted(call.func.value) or "").rsplit(".", 1)[-1]  # type: ignore[attr-defined]
    return bool(_OPTIMIZER_NAME.search(name)) and not _NOT_OPTIMIZER.search(name) \
        and isinstance(module.parent(call), ast.Expr) and module.imports.imports_any("flax")


def mode_call(call: ast.Call, scope: Optional[ast.AST] = None) -> Optional[str]:
    """"eval" for ``x.eval()`` / ``x.train(False)``, "train" for ``x.train()`` / ``x.train(flag)``.
    With the enclosing function ``scope``: also "eval" for ``x.train(was_training)`` where
    ``was_training = x.training`` was read after an ``x.eval()`` there (the mode it "restores" is
    eval)."""
    f = call.func
    if not isinstance(f, ast.Attribute):
        return None
    if f.attr == "eval" and not call.args and not call.keywords:
        return "eval"
    if f.attr == "train":
        arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "mode"), None)
        if arg is None:
            return "train" if len(call.args) + len(call.keywords) == 0 else None
        if isinstance(arg, ast.Constant) and arg.value in (False, 0):
            return "eval"
        if isinstance(arg, ast.Name) and scope is not None and _mode_captured_after_eval(scope, call, arg.id):
            return "eval"
        return "train"  # train(True) or train(flag): may restore (see ``mode_flag``)
    return None


def mode_flag(call: ast.Call) -> Optional[ast.AST]:
    """The flag of ``x.train(flag)`` when it is an expression, not a literal: ``train(flag)`` is
    ``train()`` when the flag is true and ``eval()`` when it is false (``nn.Module.train`` sets
    ``training = mode``). None for a literal or no argument."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and f.attr == "train"):
        return None
    arg = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return None if arg is None or isinstance(arg, ast.Constant) else arg


def _mode_captured_after_eval(fn: ast.AST, call: ast.Call, flag: str) -> bool:
    """``x.eval(); was_training = x.training; ...; x.train(was_training)``: the flag is the only
    binding of ``flag`` in ``fn``, read from the same receiver after an ``x.eval()`` that runs
    whenever the read does (same block or an enclosing one), with no other mode switch of ``x``
    in between. The save/restore idiom reads the flag before eval() and stays a restore."""
    receiver = dotted(call.func.value)  # type: ignore[attr-defined]
    if receiver is None:
        return False
    index = _statement_index(fn)
    stores = index.stores.get(flag, [])
    if len(stores) != 1:
        return False
    assign = stores[0]
    value = assign.value if isinstance(assign, ast.Assign) and len(assign.targets) == 1 else None
    if not (isinstance(value, ast.Attribute) and value.attr == "training" and dotted(value.value) == receiver):
        return False
    if (assign.lineno, assign.col_offset) > (call.lineno, call.col_offset):
        return False
    before = [c for c in index.mode_calls.get(receiver, ()) if (c.lineno, c.col_offset) < (assign.lineno, assign.col_offset)]
    if not before:
        return False
    last = max(before, key=lambda c: (c.lineno, c.col_offset))
    if mode_call(last) != "eval":
        return False
    stmt = index.statement_of.get(id(last))
    enclosing = set(map(id, index.ancestors(assign)))
    return stmt is not None and any(id(s) in enclosing for s in index.siblings(stmt))


class _StatementIndex:
    """Per function: the statements of each body list, the local name stores and mode calls."""

    def __init__(self, fn: ast.AST):
        self.parent_stmt: dict[int, Optional[ast.stmt]] = {}
        self.block_of: dict[int, list] = {}
        self.statement_of: dict[int, ast.stmt] = {}
        self.stores: dict[str, list[ast.stmt]] = {}
        self.mode_calls: dict[str, list[ast.Call]] = {}
        self._walk(getattr(fn, "body", []), None)

    def _walk(self, body: list, parent: Optional[ast.stmt]) -> None:
        for st in body:
            if not isinstance(st, ast.stmt):
                continue
            self.parent_stmt[id(st)] = parent
            self.block_of[id(st)] = body
            if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            for field in ("body", "orelse", "finalbody"):
                inner = getattr(st, field, None)
                if isinstance(inner, list):
                    self._walk(inner, st)
            for h in getattr(st, "handlers", []) or []:
                self.parent_stmt[id(h)] = st
                self._walk(h.body, st)
            for case in getattr(st, "cases", []) or []:
                self._walk(case.body, st)
            for part in ast.iter_child_nodes(st):
                if isinstance(part, (ast.stmt, ast.excepthandler, ast.match_case)):
                    continue
                for n in astwalk.walk(part):
                    if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                        self.stores.setdefault(n.id, []).append(st)
                    elif isinstance(n, ast.Call) and mode_call(n) is not None:
                        text = dotted(n.func.value)  # type: ignore[attr-defined]
                        if text:
                            self.mode_calls.setdefault(text, []).append(n)
                            self.statement_of[id(n)] = st

    def ancestors(self, st: ast.stmt) -> list[ast.stmt]:
        out, cur = [], st
        while cur is not None:
            out.append(cur)
            cur = self.parent_stmt.get(id(cur))
        return out

    def siblings(self, st: ast.stmt) -> list[ast.stmt]:
        """The statements after ``st`` in its block."""
        block = self.block_of.get(id(st), [])
        return block[block.index(st) + 1:] if st in block else []


@per_node
def _statement_index(fn: ast.AST) -> _StatementIndex:
    return _StatementIndex(fn)


def _calls_in_order(node: ast.AST) -> list[ast.Call]:
    """Calls in an expression/simple statement, innermost (evaluated first) first; lambdas skipped."""
    out: list[ast.Call] = []

    def visit(n: ast.AST) -> None:
        if isinstance(n, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        for child in ast.iter_child_nodes(n):
            visit(child)
        if isinstance(n, ast.Call):
            out.append(n)

    visit(node)
    return out


def _named_params(fn: FuncNode) -> set[str]:
    """The parameters a call can bind by name or position (not ``*args`` / ``**kwargs``)."""
    a = fn.args
    return {p.arg for p in a.posonlyargs + a.args + a.kwonlyargs}


def _params(fn: FuncNode) -> list[str]:
    a = fn.args
    return [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs] + ([a.vararg.arg] if a.vararg else []) + (
        [a.kwarg.arg] if a.kwarg else [])


def _local_aliases(fn_body: Sequence[ast.stmt], params: set[str]) -> dict[str, tuple[Key, str]]:
    """``net = model`` / ``net = self.model`` style aliases inside one function body."""
    aliases: dict[str, tuple[Key, str]] = {}
    for stmt in fn_body:
        for n in astwalk.walk(stmt):
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                continue
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                name = n.targets[0].id
                value = n.value
                # model = nn.DataParallel(model) / model.to(device) / model.cuda(): same object
                while isinstance(value, ast.Call):
                    if isinstance(value.func, ast.Attribute) and value.func.attr in ("to", "cuda", "cpu", "float", "half", "double", "train", "eval"):
                        value = value.func.value
                    elif value.args and isinstance(value.args[0], (ast.Name, ast.Attribute)) and (dotted(value.func) or "").rsplit(".", 1)[-1] in ("DataParallel", "DistributedDataParallel", "DDP", "compile"):
                        value = value.args[0]
                    elif value.args and isinstance(value.args[0], (ast.Name, ast.Attribute, ast.Call)) \
                            and dotted(value.func) in ("torch.jit.script", "jit.script") \
                            and n is stmt and not _switched_by_name(fn_body, name):
                        # scripted = torch.jit.script(model), once, in the function's own body (not
                        # an export per epoch): a ScriptModule that shares the model's parameters
                        # and starts in its mode (script keeps both BN branches). Its own eval()
                        # does not reach the model's layers: a name switched itself is no alias.
                        value = value.args[0]
                    else:
                        break
                if isinstance(value, (ast.Name, ast.Attribute)) and dotted(value) and dotted(value).split(".")[0] != name:
                    key, text = receiver_key(value, {}, params)
                    aliases[name] = (key, text)
                elif isinstance(value, ast.Subscript) and isinstance(value.slice, ast.Name) \
                        and isinstance(value.value, (ast.Name, ast.Attribute)) and dotted(value.value) \
                        and dotted(value.value).split(".")[0] != name:
                    # model = models[idx]: an element of the list, as `models[idx]` is named elsewhere
                    key, text = receiver_key(value, {}, params)
                    if key is not None:
                        aliases[name] = (key, text)
    return aliases


def _switched_by_name(body: Sequence[ast.stmt], name: str) -> bool:
    """Does ``body`` call ``name.eval()`` / ``name.train(...)``?"""
    return any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("eval", "train")
               and isinstance(n.func.value, ast.Name) and n.func.value.id == name for st in body for n in astwalk.walk(st))


class Flow:
    """Per-project cache of function summaries."""

    def __init__(self, project: Project):
        self.project = project
        self._summaries: dict[int, list[Event]] = {}
        self._in_progress: set[int] = set()
        self.module_of: dict[int, Module] = {}
        self.function_info: dict[int, FunctionInfo] = {}
        self._inits: dict[str, list[FunctionInfo]] = {}  # class name -> its __init__
        self._producer_sets: dict[str, tuple[set[int], set[int]]] = {}
        self._methods_named: Optional[dict[str, int]] = None
        self._class_methods: dict[int, set[str]] = {}  # class id -> its method names
        self._called_by_module: dict[int, set[str]] = {}
        self._component_called_names: dict[frozenset, set[str]] = {}  # class names built per import component
        self._plain_functions: Optional[set[tuple[int, str]]] = None  # (module id, name) of non-methods
        self._calls_by_form: Optional[tuple] = None
        self._callbacks: Optional[tuple[dict, dict, dict]] = None
        self._component_methods: dict[tuple, object] = {}
        self._callable_args: dict[tuple[int, str], Optional[tuple]] = {}
        self._fresh_returns: dict[int, bool] = {}  # function id -> hands back a module it builds
        for m in project.modules:
            for f in m.functions:
                self.module_of[id(f.node)] = m
                self.function_info[id(f.node)] = f
                if f.cls is not None and f.name == "__init__":
                    self._inits.setdefault(f.cls.name, []).append(f)

    # --- which functions can produce events at all -------------------------------------------
    def may_produce(self, kind: str, fn: Optional[FuncNode], module: Module) -> bool:
        """Can the summary of ``fn`` (the module body when None) hold an event of ``kind`` ("eval",
        "step", or "any" kind)? An over-approximation that mirrors ``resolve``, so that the rules skip
        the summaries of the many functions that can only produce nothing: a function can when one of
        its own calls is such an event, or when one of its calls may resolve to a function that can
        (for "eval" and "step" only a unique resolution counts: an ambiguous callee's events are
        dropped, except train())."""
        fns, mods = self._producers(kind)
        return id(fn) in fns if fn is not None else id(module) in mods

    def _producers(self, kind: str) -> tuple[set[int], set[int]]:
        cached = self._producer_sets.get(kind)
        if cached is not None:
            return cached
        sites, seeds = self._call_index()
        fns, mods = set(seeds[kind][0]), set(seeds[kind][1])
        if kind == "any":
            return self._any_producers(sites, fns, mods)
        # An eval() or a step reaches a caller only through a unique resolution (an ambiguous
        # callee may restore, never accuse): a method called on another receiver than ``self`` or
        # a plain name is unique only when the project has one method of that name.
        methods_named = self._method_counts()
        todo = list(fns)
        while todo:
            fi = self.function_info.get(todo.pop())
            if fi is None:
                continue
            if fi.cls is None:
                reached = [c for c in sites.get(("name", fi.name), ()) if self._name_call_may_reach(c, fi)]
                # ``module.f()`` reaches a function of a module of that name only
                reached += sites.get(("module", fi.name, fi.module.module_name.rsplit(".", 1)[-1]), [])
            else:
                # ``self.f()`` in a class that has its own ``f`` runs that one
                reached = [c for c in sites.get(("self", fi.name), ()) if not self._shadowed(c, fi)]
                if methods_named.get(fi.name, 0) == 1:
                    reached += sites.get(("attr_name", fi.name), [])
                    reached += sites.get(("attr_other", fi.name), [])
                else:
                    # ``trainer.fit()`` among several ``fit`` methods is unique only when the
                    # receiver was built from this class in the caller (``trainer = Trainer(...)``),
                    # or when the other ``fit`` methods belong to other programs of the folder
                    # (`_only_method_in_program(c.module, fi)` holds exactly for the callers in fi's
                    # own program when fi is the only method of its name there: asked once, not per
                    # call site, since popular names have thousands)
                    only = self.project.import_component(fi.module) \
                        if self._only_method_in_program(fi.module, fi) else None
                    reached += [c for c in sites.get(("attr_name", fi.name), ())
                                if fi.cls.name in self._called_names(c.module) or (only is not None and id(c.module) in only)]
                    if only is not None:
                        reached += [c for c in sites.get(("attr_other", fi.name), ()) if id(c.module) in only]
                if fi.name == "__init__" and not any(g.cls is None for g in self.project.functions(fi.cls.name)):
                    reached += sites.get(("name", fi.cls.name), [])  # ``Trainer(...)`` runs it
                if fi.name == "__call__" and self._call_switches_or_steps(fi):
                    reached += self._object_call_sites(fi.cls.name)  # ``labeler = Labeler(m); labeler(x)``
            if fi.cls is None:
                reached += self._callback_sites(fi.name)  # ``train(..., on_log=partial(fi, ...))``
            _add_callers(reached, fns, mods, todo)
        self._producer_sets[kind] = (fns, mods)
        return fns, mods

    def _any_producers(self, sites: dict[tuple, list], fns: set[int], mods: set[int]) -> tuple[set[int], set[int]]:
        """Functions whose summary may hold any event: by names alone (a call named like a function
        that may produce one, an ``__init__`` by its class name), each name followed once. Coarser
        than the per-callee filters of the "eval"/"step" sets and still sound: it only decides which
        bodies are walked at all."""
        callers: dict[str, list] = {}
        for (form, name, *_), cs in sites.items():
            if form != "module":
                callers.setdefault(name, []).extend(cs)
        seen: set[str] = set()
        todo = list(fns)
        while todo:
            fi = self.function_info.get(todo.pop())
            if fi is None:
                continue
            names = [fi.name, fi.cls.name] if fi.cls is not None and fi.name == "__init__" else [fi.name]
            for name in names:
                if name in seen:
                    continue
                seen.add(name)
                _add_callers(callers.get(name, ()), fns, mods, todo)
                _add_callers(self._callback_sites(name), fns, mods, todo)
            if fi.cls is not None and fi.name == "__call__" and self._call_switches_or_steps(fi):
                _add_callers(self._object_call_sites(fi.cls.name), fns, mods, todo)
        self._producer_sets["any"] = (fns, mods)
        return fns, mods

    def _call_switches_or_steps(self, fi: FunctionInfo) -> bool:
        """Does the ``__call__`` ``fi`` itself put a module in eval mode or step an optimizer? Only then
        do the calls of its objects (``labeler(x)``) make their callers producers: followed through
        every ``__call__`` that may reach an event by resolution, the callers of compiler passes and
        loggers were walked too, and the PyTorch sources took 17 times as long to check."""
        seeds = self._call_index()[1]
        return id(fi.node) in seeds["eval"][0] or id(fi.node) in seeds["step"][0]

    def _call_index(self) -> tuple[dict[tuple, list], dict[str, tuple[set[int], set[int]]]]:
        """Call sites by the form of the callee, as ``resolve`` distinguishes them — ``f()``,
        ``self.f()``, ``name.f()`` (also by the last name of the module ``name`` may import) and any
        other receiver (``self.model.f()``) — and, per kind, the functions (and module bodies) with
        an event call of their own."""
        if self._calls_by_form is not None:
            return self._calls_by_form
        sites: dict[tuple, list] = {}
        seeds: dict[str, tuple[set[int], set[int]]] = {k: (set(), set()) for k in ("eval", "step", "any")}
        for m in self.project.modules:
            aliases = m.imports.aliases
            for c in m.calls:
                if c.name is None:
                    continue
                f = c.node.func
                if isinstance(f, ast.Name):
                    form = "name"
                elif isinstance(f.value, ast.Name):
                    form = "self" if f.value.id == "self" else "attr_name"
                    if form == "attr_name":
                        tail = aliases.get(f.value.id, f.value.id).rsplit(".", 1)[-1]
                        sites.setdefault(("module", c.name, tail), []).append(c)
                else:
                    form = "attr_other"
                sites.setdefault((form, c.name), []).append(c)
                kinds = []
                if c.name in ("step", "update") and is_optimizer_step(c.node, m):
                    kinds = ["step", "any"]
                elif c.name in ("eval", "train"):
                    mode = mode_call(c.node)
                    # train(flag) is eval() where the flag is false
                    kinds = ["eval", "any"] if mode == "eval" or mode and mode_flag(c.node) is not None \
                        else ["any"] if mode else []
                elif c.name == "apply" and len(c.node.args) == 1 and self._applies_bn_freeze(m, c.node.args[0]):
                    kinds = ["eval", "any"]  # a BN freeze (model.apply(set_bn_eval))
                elif c.name in ("requires_grad_", "parameters", "named_parameters") and freezes_with_eval(self.project) \
                        and unfreeze_target(c.node, m) is not None:
                    kinds = ["any"]  # an unfreeze (event "unfreeze")
                for k in kinds:
                    fns, mods = seeds[k]
                    fns.add(id(c.scope)) if c.scope is not None else mods.add(id(m))
        self._calls_by_form = (sites, seeds)
        return self._calls_by_form

    def _callback_sites(self, name: str) -> list:
        """The calls of a parameter (``on_log(model, step)``) in the functions that some call passes
        ``name`` to, as an argument or through ``functools.partial(name, ...)``: by names alone, an
        over-approximation of ``callable_argument`` for the producer sets."""
        if self._callbacks is None:
            passed: dict[str, set[str]] = {}  # function name -> names of the callees it is passed to
            param_calls: dict[str, list] = {}  # function name -> its calls of its own parameters
            # Only names of the project's functions and classes are ever asked for: other passed
            # names (most arguments are plain variables) need no entry.
            callables = {fi.name for fi in self.function_info.values()}
            callables.update(cls.name for m in self.project.modules for cls in m.classes)
            for m in self.project.modules:
                partials: dict[tuple[int, str], str] = {}  # (scope, name) -> f of `name = partial(f, ...)`
                for c in m.calls:
                    if c.qualname != "functools.partial":
                        continue
                    target = m.parent(c.node)
                    if isinstance(target, ast.Assign) \
                            and len(target.targets) == 1 and isinstance(target.targets[0], ast.Name):
                        ref = _function_reference(c.node, m)
                        if ref is not None:
                            partials[(id(c.scope), target.targets[0].id)] = ref[0].id
                params_of: dict[int, set[str]] = {}  # per enclosing function, not per call
                for c in m.calls:
                    f = c.node.func
                    if type(f) is ast.Name and isinstance(c.scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        params = params_of.get(id(c.scope))
                        if params is None:
                            params = params_of[id(c.scope)] = set(_params(c.scope))
                        if f.id in params:
                            param_calls.setdefault(c.scope.name, []).append(c)
                    node = c.node
                    if c.name is None or not (node.args or node.keywords):
                        continue
                    for a in [*node.args, *(k.value for k in node.keywords)] if node.keywords else node.args:
                        t = type(a)  # only a name or a partial(...) call can be a function reference
                        if t is ast.Name:
                            fn_name = a.id
                        elif t is ast.Call:
                            fn = _function_reference(a, m)
                            if fn is None:
                                continue
                            fn_name = fn[0].id
                        else:
                            continue
                        fn_name = partials.get((id(c.scope), fn_name), fn_name)
                        if fn_name in callables:
                            passed.setdefault(fn_name, set()).add(c.name)
            self._callbacks = (passed, param_calls, {})
        passed, param_calls, by_name = self._callbacks
        found = by_name.get(name)
        if found is None:  # asked for every function the producer sets reach: once per name
            found = by_name[name] = [c for callee in passed.get(name, ()) for c in param_calls.get(callee, ())]
        return found

    def callable_argument(self, module: Module, call: ast.Call, scope: Optional[FuncNode]) -> Optional[tuple[FunctionInfo, ast.Call]]:
        """``on_log(model, step)`` where ``on_log`` is a parameter of the enclosing function and every
        call of that function that passes it passes the same project function, by name or as
        ``functools.partial(f, ...)``: (that function, a call of it binding this call's arguments
        after the partial's, whose own values are unknown here)."""
        f = call.func
        if not (isinstance(f, ast.Name) and isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef))
                and f.id in _params(scope)) or f.id in _assigned_names(scope.body):
            return None
        memo_key = (id(scope), f.id)
        if memo_key not in self._callable_args:
            self._callable_args[memo_key] = None  # also guards against a cycle through the call sites
            self._callable_args[memo_key] = self._passed_function(scope, f.id)
        found = self._callable_args[memo_key]
        if found is None:
            return None
        fi, n_partial_args, partial_keywords = found
        unknown = ast.Call(func=ast.Name(id="<partial argument>", ctx=ast.Load()), args=[], keywords=[])
        bound_call = ast.Call(func=f, args=[unknown] * n_partial_args + list(call.args),
                              keywords=[ast.keyword(arg=k, value=unknown) for k in partial_keywords] + list(call.keywords))
        return fi, bound_call

    def _passed_function(self, scope: FuncNode, param: str) -> Optional[tuple[FunctionInfo, int, tuple]]:
        fi_scope = self.function_info.get(id(scope))
        if fi_scope is None:
            return None
        found: set = set()
        for site in self.project.call_sites(scope.name):
            cands, unique = self.resolve(site.module, site.node, site.scope)
            if not any(c.node is scope for c in cands):
                continue  # another function of that name
            if not unique or any(isinstance(a, ast.Starred) for a in site.node.args) \
                    or any(k.arg is None for k in site.node.keywords):
                return None
            arg = call_arguments(fi_scope, site.node)[1].get(param)
            if arg is None or isinstance(arg, ast.Constant) and arg.value is None:
                continue  # the default (``on_log=None``): this call never runs it
            caller_scope = site.scope
            if isinstance(arg, ast.Name):
                arg = _single_assignment(caller_scope if caller_scope is not None else site.module.tree, arg.id) or arg
            ref = _function_reference(arg, site.module)
            if ref is None:
                return None
            name, n_args, keywords = ref
            if isinstance(caller_scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and (
                    name.id in _params(caller_scope) or not isinstance(caller_scope, ast.Lambda)
                    and name.id in _assigned_names(caller_scope.body)):
                return None  # a local or a parameter of the caller, not the project function
            target, t_unique = self.resolve(site.module, ast.Call(func=name, args=[], keywords=[]), site.scope)
            if not t_unique or len(target) != 1 or target[0].cls is not None:
                return None
            found.add((id(target[0].node), n_args, keywords))
            fn = target[0]
        if len(found) != 1:
            return None
        _id, n_args, keywords = next(iter(found))
        return fn, n_args, keywords

    def _only_method_in_program(self, module: Module, fi: FunctionInfo) -> bool:
        """Is ``fi`` the only method of its name among the modules connected to ``module`` by imports?"""
        component = self.project.import_component(module)
        if id(fi.module) not in component:
            return False
        return len(self._methods_in_component(fi.name, component)) == 1

    def _method_counts(self) -> dict[str, int]:
        if self._methods_named is None:
            counts: dict[str, int] = {}
            for m in self.project.modules:
                for f in m.functions:
                    if f.cls is not None:
                        counts[f.name] = counts.get(f.name, 0) + 1
                        self._class_methods.setdefault(id(f.cls), set()).add(f.name)
            self._methods_named = counts
        return self._methods_named

    def _object_call_sites(self, cls_name: str) -> list:
        """The calls ``name(...)`` of a local ``name = ClassName(...)`` (which run the class's
        ``__call__``; see ``_called_object``), in the modules that call ``ClassName``."""
        key = ("__call__", cls_name)
        found = self._component_methods.get(key)
        if found is None:
            found = []
            for m in self.project.modules:
                if cls_name not in self._called_names(m):
                    continue
                for c in m.calls:
                    if c.name and isinstance(c.node.func, ast.Name) and c.name != cls_name \
                            and cls_name in _constructed_classes(c.name, c.scope if c.scope is not None else m.tree):
                        found.append(c)
            self._component_methods[key] = found
        return found

    def _called_names(self, module: Module) -> set[str]:
        names = self._called_by_module.get(id(module))
        if names is None:
            names = self._called_by_module[id(module)] = {c.name for c in module.calls if c.name}
        return names

    def _name_call_may_reach(self, site, callee: FunctionInfo) -> bool:
        """Can ``f()`` at ``site`` resolve to the function ``callee`` (see ``resolve``)? A function
        of the caller's own module wins; another module's only when the name is imported."""
        module = site.module
        if callee.module is module:
            return True
        if self._plain_functions is None:
            self._plain_functions = {(id(f.module), f.name) for m in self.project.modules for f in m.functions
                                     if f.cls is None}
        if (id(module), callee.name) in self._plain_functions:
            return False
        if callee.name in module.imports.aliases:
            return self.project.imports_name_from(module, callee.name, callee.module)
        return _star_imports(module)

    def _shadowed(self, site, callee: FunctionInfo) -> bool:
        """Is ``self.f()`` at ``site`` resolved to the caller's own class, which is not ``callee``'s?
        Not when the caller's class only declares ``f`` and ``callee`` overrides it in a subclass
        (see ``resolve``)."""
        own = self.function_info.get(id(site.scope)) if site.scope is not None else None
        if own is None or own.cls is None or own.cls is callee.cls:
            return False
        if callee.name not in self._class_methods.get(id(own.cls), ()):
            return False
        component = self.project.import_component(site.module)
        if id(callee.module) not in component:
            return True
        declared = [fi for fi in self._methods_in_component(callee.name, component) if fi.cls is own.cls]
        return not (declared and _placeholder_method(declared[0].node)
                    and self._derives_from(callee.cls, own.cls, component))

    def _derives_from(self, cls: ast.ClassDef, base: ast.ClassDef, component: frozenset, depth: int = 0) -> bool:
        """Is ``cls`` a subclass of ``base`` through the project classes of one import component
        (by the names in the ``class`` statements)?"""
        if depth > 4:
            return False
        memo_key = ("derives", id(cls), id(base), component)
        found = self._component_methods.get(memo_key)
        if found is not None:
            return found  # type: ignore[return-value]
        verdict = False
        for b in cls.bases:
            name = (dotted(b) or "").rsplit(".", 1)[-1]
            if name == base.name:
                verdict = True
            elif name:
                verdict = any(c is not cls and id(m) in component and self._derives_from(c, base, component, depth + 1)
                              for c, m in self.project.classes_by_name.get(name, ()))
            if verdict:
                break
        self._component_methods[memo_key] = verdict
        return verdict

    def _subclass_overrides(self, cls: ast.ClassDef, cands: list[FunctionInfo], component: frozenset) -> list[FunctionInfo]:
        """The methods among ``cands`` defined by (transitive) subclasses of ``cls``."""
        key = ("overrides", id(cls), tuple(id(fi.node) for fi in cands))
        found = self._component_methods.get(key)
        if found is None:
            found = self._component_methods[key] = [  # type: ignore[assignment]
                fi for fi in cands if fi.cls is not None and fi.cls is not cls and self._derives_from(fi.cls, cls, component)]
        return list(found)  # type: ignore[arg-type]

    # --- call resolution ----------------------------------------------------------------------
    def _methods_in_component(self, name: str, component: frozenset) -> list[FunctionInfo]:
        """The methods called ``name`` defined in the modules of one import component (memoised: a
        popular name such as ``forward`` has thousands of methods and call sites in a large tree, and
        the callers of a function are resolved again and again)."""
        key = (name, component)
        found = self._component_methods.get(key)
        if found is None:
            found = self._component_methods[key] = [
                fi for fi in self.project.functions(name) if fi.cls is not None and id(fi.module) in component]
        return found

    def _methods_by_class(self, name: str, component: frozenset) -> dict[str, list[tuple[int, FunctionInfo]]]:
        """``_methods_in_component`` by the name of the class that defines each (with its position in
        that list): a ``super().__init__()`` looks up its bases only."""
        key = ("by_class", name, component)
        found = self._component_methods.get(key)
        if found is None:
            found = {}
            for i, fi in enumerate(self._methods_in_component(name, component)):
                found.setdefault(fi.cls.name, []).append((i, fi))
            self._component_methods[key] = found  # type: ignore[assignment]
        return found  # type: ignore[return-value]

    def callers_of(self, fn: ast.AST) -> list[tuple]:
        """The project's calls that may run ``fn`` (a call whose resolution includes it, recursive
        calls from ``fn`` itself too), each as (call site, whether that resolution is unique)."""
        fi = self.function_info.get(id(fn))
        if fi is None:
            return []
        out = []
        for site in self.project.call_sites(fi.name):
            cands, unique = self.resolve(site.module, site.node, site.scope)
            if any(c.node is fn for c in cands):
                out.append((site, unique))
        return out

    def resolve(self, module: Module, call: ast.Call, scope: Optional[FuncNode]) -> tuple[list[FunctionInfo], bool]:
        """Project functions a call may run, and whether the resolution is unique."""
        f = call.func
        if isinstance(f, ast.Name):
            cands = [fi for fi in self.project.functions(f.id) if fi.cls is None]
            if not cands:  # a project class: its __init__ runs
                inits = _narrow_by_import(module, f.id, self._inits.get(f.id, []), self.project)
                if not inits:
                    return self._called_object(module, f.id, scope)
                return inits[:1], len(inits) == 1
            same = [fi for fi in cands if fi.module is module]
            if same:
                return _bound_at(same, call, scope), True
            if f.id not in module.imports.aliases and not _star_imports(module):
                # defined neither here nor imported: another script's function of the same name
                # (an examples folder), or a builtin / parameter; never this call
                return [], False
            # a `from pkg.mod import name` import narrows the candidates to that module
            cands = [fi for fi in cands if self.project.imports_name_from(module, f.id, fi.module)]
            if not cands:
                return [], False
            target = module.imports.aliases.get(f.id, "")
            mod_hint = target.lstrip(".").rsplit(".", 1)[0] if target else ""
            if mod_hint:
                narrowed = [fi for fi in cands if fi.module.module_name.endswith(mod_hint) or mod_hint.endswith(fi.module.module_name.rsplit(".", 1)[-1])]
                if len(narrowed) == 1:
                    return narrowed, True
            return cands, len(cands) == 1
        if isinstance(f, ast.Attribute):
            # a method of a class in another program of the folder (an unrelated script's train()
            # override) is never what this call runs: only the modules this one is connected to by imports
            component = self.project.import_component(module)
            if isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name) and f.value.func.id == "super":
                # super().__init__(...): the method of a base class named in this class's bases
                # (none of the project's when the base is a library class such as nn.Module)
                own = self.function_info.get(id(scope)) if scope is not None else None
                if own is None or own.cls is None:
                    return [], False
                bases = {(dotted(b) or "").rsplit(".", 1)[-1] for b in own.cls.bases}
                by_class = self._methods_by_class(f.attr, component)
                inherited = sorted((pair for b in bases for pair in by_class.get(b, ()) if pair[1].cls is not own.cls),
                                   key=lambda pair: pair[0])
                return [fi for _, fi in inherited[:1]], len(inherited) == 1
            cands = list(self._methods_in_component(f.attr, component))
            if cands and isinstance(f.value, ast.Name) and f.value.id != "self" \
                    and self._library_instance(module, f.value.id, scope):
                return [], False  # `attacker = tf.estimator.Estimator(...); attacker.train(...)`
            if isinstance(f.value, ast.Name) and f.value.id == "self" and scope is not None:
                own = self.function_info.get(id(scope))
                if own is not None and own.cls is not None:
                    same_cls = [fi for fi in cands if fi.cls is own.cls]
                    if same_cls and _placeholder_method(same_cls[0].node):
                        # a template method's ``self.train_epoch()`` where the class only declares
                        # it (``@abstractmethod``, ``raise NotImplementedError``, ``pass``): what
                        # runs is the override of the subclass the object was built from
                        overrides = self._subclass_overrides(own.cls, cands, component)
                        if overrides:
                            return overrides, len(overrides) == 1
                    if same_cls:
                        return same_cls[:1], True
            built_here = isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
            if (built_here or (isinstance(f.value, ast.Name) and f.value.id != "self")) and len(cands) > 1:
                # `trigger = Trigger(model); trigger.generate()` / `Trigger(model).generate()`: the
                # class the receiver was built from
                cls_names = {f.value.func.id} if built_here else \
                    _constructed_classes(f.value.id, scope if scope is not None else module.tree)
                typed = [fi for fi in cands if fi.cls is not None and fi.cls.name in cls_names]
                if len(cls_names) == 1:  # two scripts' classes of that name: the one imported here
                    typed = _narrow_by_import(module, next(iter(cls_names)), typed, self.project)
                local = [fi for fi in typed if fi.module is module]
                if len(local or typed) == 1:
                    return (local or typed), True
            if isinstance(f.value, ast.Name) and f.value.id != "self" and _names_own_module(module, f.value.id):
                # `d2l = sys.modules[__name__]; d2l.evaluate_loss(...)`: a function of this very file
                own = [fi for fi in self.project.functions(f.attr) if fi.cls is None and fi.module is module]
                if own:
                    return own[:1], True
            if isinstance(f.value, ast.Name) and f.value.id != "self":
                # module.function(...) for an imported project module
                mod_funcs = [fi for fi in self.project.functions(f.attr) if fi.cls is None
                             and fi.module.module_name.rsplit(".", 1)[-1] == (module.imports.aliases.get(f.value.id, f.value.id).rsplit(".", 1)[-1])]
                if len(mod_funcs) > 1:
                    # `import engine` names the engine.py next to the importer, not another
                    # program's module of the same name in the folder
                    mod_funcs = [fi for fi in mod_funcs if self.project.attribute_may_name(module, f, fi.module)]
                if len(mod_funcs) == 1:
                    return mod_funcs, True
            return cands, len(cands) == 1
        return [], False

    def _called_object(self, module: Module, name: str, scope: Optional[FuncNode]) -> tuple[list[FunctionInfo], bool]:
        """``labeler = PseudoLabeler(model); labeler(x)``: calling an object of a project class runs
        its ``__call__`` (the class the name is built from in this function, or the module body, and
        no other binding of the name there)."""
        owner = scope if scope is not None else module.tree
        if scope is not None and name in _params(scope):
            return [], False
        classes = _constructed_classes(name, owner)
        if len(classes) != 1 or sum(1 for n in astwalk.walk(owner) for t in _binding_targets(n)
                                    if isinstance(t, ast.Name) and t.id == name) != 1:
            return [], False
        cls_name = next(iter(classes))
        cands = [fi for fi in self._methods_in_component("__call__", self.project.import_component(module))
                 if fi.cls is not None and fi.cls.name == cls_name]
        cands = _narrow_by_import(module, cls_name, cands, self.project)
        local = [fi for fi in cands if fi.module is module]
        found = local or cands
        return found[:1], len(found) == 1

    def _container_dispatch(self, module: Module, call: ast.Call, loops: tuple,
                            cands: list[FunctionInfo]) -> list[FunctionInfo]:
        """``for callback in self.callbacks: callback.on_epoch_end(self, epoch)``: a method called on
        each element of a container runs the method of every element's class, not one of them. The
        candidates that can be elements are the methods of the classes the program builds
        (``ValidationCallback(...)`` somewhere in its modules); their eval() then happens at that
        call. Only when no candidate can switch back to train(): which element runs last is not
        known, so an element that restores the mode could cancel another's eval(). Empty when the
        call is not such a dispatch (the ambiguous callee then may restore, never accuse)."""
        f = call.func
        if len(cands) < 2 or not isinstance(f, ast.Attribute) or not isinstance(f.value, ast.Name) \
                or f.value.id == "self" or any(fi.cls is None for fi in cands):
            return []
        var = f.value.id
        container = next((lp.iter for lp in reversed(loops) if isinstance(lp, (ast.For, ast.AsyncFor))
                          and isinstance(lp.target, ast.Name) and lp.target.id == var), None)
        if not isinstance(container, (ast.Name, ast.Attribute)):
            return []  # `for x in range(n)` / `for x in make()`: not a container of callback objects
        component = self.project.import_component(module)
        built = self._component_called_names.get(component)
        if built is None:
            built = self._component_called_names[component] = {
                name for m in self.project.modules if id(m) in component for name in self._called_names(m)}
        out = [fi for fi in cands if fi.cls.name in built]  # type: ignore[union-attr]
        if not out or any(ev.kind == "train" for fi in cands if self.function_info.get(id(fi.node))
                          for ev in self.summary(fi.node)):
            return []
        return out[:8]

    def _library_instance(self, module: Module, name: str, scope: Optional[FuncNode]) -> bool:
        """Is every binding of ``name`` in ``scope`` (the module body for None) a construction of an
        imported library class (``tf.estimator.Estimator(...)``, ``xgb.XGBClassifier()``), not a
        project one? Then ``name.train()`` runs that library's method, never a project function."""
        owner = scope if scope is not None else module.tree
        if scope is not None and name in _params(scope):
            return False
        found = False
        for n, t in bindings_by_name(owner).get(name, ()):
            if not (isinstance(n, ast.Assign) and isinstance(t, ast.Name) and isinstance(n.value, ast.Call)):
                return False
            q = module.qualname(n.value.func) or ""
            last = q.rsplit(".", 1)[-1]
            if not q or not last[:1].isupper() or self._inits.get(last) \
                    or any(c.name == last for m in self.project.modules_named(q.split(".", 1)[0]) for c in m.classes) \
                    or self.project.module_named(q.rsplit(".", 1)[0], module) is not None:
                return False  # a project class, or one we cannot place
            found = True
        return found

    def _plain_object_method(self, module: Module, call: ast.Call, scope: Optional[FuncNode]) -> bool:
        """Is ``x.eval()`` / ``x.train()`` a method of a plain project class (no base, ``object``:
        a trainer or learner wrapper, not an ``nn.Module``) that ``x`` is built from? Then the call
        runs that method (``self.net.eval()``), and is followed like any other call."""
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if not isinstance(receiver, ast.Name) or receiver.id == "self":
            return False
        cands, unique = self.resolve(module, call, scope)
        if not unique or not cands or cands[0].cls is None:
            return False
        # only a receiver visibly built from that class (one class of the project with a train()
        # method says nothing about `model.train()` on an nn.Module)
        if cands[0].cls.name not in _constructed_classes(receiver.id, scope if scope is not None else module.tree):
            return False
        return all((dotted(b) or "") in PLAIN_BASES for b in cands[0].cls.bases)

    def _foreign_plain_method(self, module: Module, call: ast.Call, scope: Optional[FuncNode], fi: FunctionInfo) -> bool:
        """Is the ``x.train()`` / ``x.eval()`` resolved by name to ``fi``, a method of a plain project
        class (no base, ``object``), made on a name that is not built from that class: not in
        ``scope``, nor, for a parameter, by any caller that passes it? Such an ``x`` is an
        ``nn.Module`` (an LSTM controller handed to ``train_controller(model, controller, opt)``)
        as far as the project shows, and the call is ``nn.Module.train``."""
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if fi.cls is None or not isinstance(receiver, ast.Name) or receiver.id == "self" \
                or not all((dotted(b) or "") in PLAIN_BASES for b in fi.cls.bases):
            return False
        cls = fi.cls.name
        owner = scope if scope is not None else module.tree
        if cls in _constructed_classes(receiver.id, owner):
            return False
        if scope is None or receiver.id not in _params(scope) or self.function_info.get(id(scope)) is None:
            return True
        caller_fi = self.function_info[id(scope)]
        for site, _unique in self.callers_of(scope):
            arg = call_arguments(caller_fi, site.node)[1].get(receiver.id)
            if arg is None:
                continue  # left to its default, or passed through *args: not this call's object
            if not isinstance(arg, ast.Name) or cls in _constructed_classes(
                    arg.id, site.scope if site.scope is not None else site.module.tree):
                return False  # some call may hand it an instance of that class
        return True

    def filled_only_with_eval_modules(self, module: Module, value: ast.AST, target: str, body: Sequence[ast.stmt],
                                      scope: Optional[FuncNode]) -> bool:
        """``ens = nn.ModuleList()`` (or a project subclass of a torch.nn container whose ``__init__``
        builds nothing) then ``ens.append(torch.load(w).eval())``: an empty container holds no layer of
        its own, so its construction says nothing about the mode of its BatchNorm layers; they are
        those of the modules ``body`` adds, each in the mode it had. True when ``body`` adds some and
        each is visibly in eval mode: ``x.eval()`` (also inside a chain of Module methods), or a
        local the body puts in eval mode (``m = Net(); m.eval(); ens.append(m)``). A module added
        in training mode (``ens.append(Net())``) or one of unknown mode keeps the container's
        construction a new module in training mode."""
        call = value if isinstance(value, ast.Call) and not value.args and not value.keywords else None
        if call is None or not self._empty_container_class(module, call, scope):
            return False
        added = _added_modules(body, target)
        if not added:
            return False
        nodes = [n for st in body for n in astwalk.walk(st)] if any(isinstance(e, ast.Name) for e in added) else []
        for e in added:
            if isinstance(e, ast.Name):
                switches = [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                            and n.func.attr in ("eval", "train") and dotted(n.func.value) == e.id]
                if not switches or any(mode_call(n) != "eval" for n in switches):
                    return False
            elif _outer_mode_switch(e) is None:
                return False
        return True

    def _empty_container_class(self, module: Module, call: ast.Call, scope: Optional[FuncNode]) -> bool:
        if (module.qualname(call.func) or "") in _TORCH_CONTAINERS:
            return True
        cands, unique = self.resolve(module, call, scope) if isinstance(call.func, ast.Name) else ([], False)
        if not unique or not cands or cands[0].name != "__init__" or cands[0].cls is None:
            return False
        init, cls = cands[0], cands[0].cls
        if not any((init.module.qualname(b) or "") in _TORCH_CONTAINERS for b in cls.bases):
            return False
        for st in init.node.body:  # only ``super().__init__()`` (and a docstring / pass)
            if isinstance(st, ast.Pass) or isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant):
                continue
            c = st.value if isinstance(st, ast.Expr) else None
            if not (isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute) and c.func.attr == "__init__"
                    and not c.keywords and len(c.args) <= (0 if isinstance(c.func.value, ast.Call) else 1)):
                return False
        return True

    def factory_rebuilds(self, module: Module, value: ast.AST, target: str, scope: Optional[FuncNode],
                         depth: int = 0) -> bool:
        """``model = get_model(cfg)`` / ``timm.create_model(name)`` / ``torchvision.models.resnet18()``:
        a call that hands back a module it builds itself, in training mode like every new module (a
        sweep that rebuilds its model in each iteration: an eval() of the previous one no longer
        applies). A project function counts when each of its returns is such a construction
        (``return nn.Sequential(...)``, a local always built so, another such factory) and it
        switches nothing to eval mode; never one that hands back a module it keeps
        (``return _CACHE[k]``, ``return self.net``, a global). A callee the project does not hold
        (a library, an import that does not resolve) counts when named as a model factory. Either
        way no argument may be a module (``wrap(model)`` keeps the mode of what it wraps)."""
        value = same_object_base(value)
        if depth > 2 or not isinstance(value, ast.Call) or not isinstance(value.func, (ast.Name, ast.Attribute)):
            return False
        root = value.func
        while isinstance(root, ast.Attribute):
            root = root.value
        name = value.func.id if isinstance(value.func, ast.Name) else value.func.attr
        if not isinstance(root, ast.Name) or name[:1].isupper() or not _settings_only(value, target):
            return False  # a class constructed here: ``_builds_new_module``'s case
        cands, _unique = self.resolve(module, value, scope)
        if cands:
            return all(self._returns_new_module(fi, depth) for fi in cands[:4])
        if root.id not in module.imports.aliases:
            return False  # a parameter or local callable (``model_fn()``): what it returns is unknown
        return bool(_FACTORY_NAME.match(name)) and not _NOT_BUILT_NAME.search(name)

    def _returns_new_module(self, fi: FunctionInfo, depth: int) -> bool:
        fn = fi.node
        cached = self._fresh_returns.get(id(fn))
        if cached is not None:
            return cached
        self._fresh_returns[id(fn)] = False  # a recursive factory proves nothing
        verdict = fi.name == "__init__" and fi.cls is not None  # ``model = resnet_like(cfg)``, a project class
        if not isinstance(fn, ast.Lambda) and fi.name != "__init__":
            own = list(_own_nodes(fn))
            values = [n.value for n in own if isinstance(n, ast.Return) and n.value is not None
                      and not (isinstance(n.value, ast.Constant) and n.value.value is None)]
            switches = any(isinstance(n, ast.Call) and mode_call(n, fn) == "eval" for n in own)
            if values and not switches and not any(isinstance(n, (ast.Yield, ast.YieldFrom)) for n in own):
                built = _fresh_locals(fn.body, _assigned_names(fn.body))
                verdict = True
                for v in values:
                    base = same_object_base(v)
                    if isinstance(base, ast.Name):
                        ok = base.id in built
                    elif _builds_new_module(base, ""):
                        ok = _settings_only(base, "")  # not ``return DataParallel(net)``: the mode of ``net``
                    else:
                        ok = self.factory_rebuilds(fi.module, base, "", fn, depth + 1)
                    if not ok:
                        verdict = False
                        break
        self._fresh_returns[id(fn)] = verdict
        return verdict

    def _resumed_generator(self, events: list[Event], first: int, loop: ast.AST, loops: tuple, module: Module,
                           scope: Optional[FuncNode]) -> None:
        """``for step, loss in train_steps(net, opt, batches): ... validate(net)``: a generator function
        runs its own loop one iteration per iteration of the consumer's loop, suspended at its
        ``yield`` while the consumer's body runs. The events the generator's yielding loop holds
        before its ``yield`` (``events[first:]`` were just added for the loop head's calls) run in
        every iteration of ``loop`` too, ahead of the consumer's body: they get ``loop`` as an
        enclosing loop, so that an ``eval()`` in the consumer's body is followed (wrapping around)
        by the generator's next optimizer step. Only for a head that is the generator call itself
        (or ``enumerate`` of it), resolved uniquely, with one ``yield`` at the top level of a loop
        that holds every event of the generator's loops (``while True: for batch in loader: ...;
        yield``: the loops around it only restart it), and no event after that ``yield`` in it
        (those would run after the consumer's body; the order would not be known here)."""
        head = loop.iter
        if isinstance(head, ast.Call) and isinstance(head.func, ast.Name) and head.func.id == "enumerate" and head.args:
            head = head.args[0]
        if not isinstance(head, ast.Call):
            return
        cands, unique = self.resolve(module, head, scope)
        if not unique or len(cands) != 1 or isinstance(cands[0].node, ast.Lambda):
            return
        gen = cands[0].node
        yields = [n for n in _own_nodes(gen) if isinstance(n, (ast.Yield, ast.YieldFrom))]
        if len(yields) != 1 or isinstance(yields[0], ast.YieldFrom):
            return
        gmod = cands[0].module
        stmt = gmod.statement_of(yields[0])
        yloop = gmod.parent(stmt) if stmt is not None else None
        if not isinstance(yloop, LOOP_TYPES) or stmt not in yloop.body:
            return
        mine = [i for i in range(first, len(events)) if events[i].sites[0][1] is head and len(events[i].sites) > 1]
        inside = [i for i in mine if any(lp is yloop for lp in events[i].loops)]
        if not inside:
            return
        k = len(loops)
        for i in mine:
            ev = events[i]
            own = ev.loops[k:]  # the generator's loops (and deeper callees')
            if own and not any(lp is yloop for lp in own):
                return  # in another loop of the generator (around the yielding one, or after it): not one run per resumption
            if i in inside and (ev.sites[1][1].lineno, ev.sites[1][1].col_offset) >= (stmt.lineno, stmt.col_offset):
                return  # after the yield: runs after the consumer's body
        for i in inside:
            ev = events[i]
            events[i] = replace(ev, loops=ev.loops[:k] + (loop,) + ev.loops[k:])

    def first_run_in_train_mode(self, site, key: Key, events: list[Event], depth: int = 0) -> bool:
        """Does the call ``site`` run first with ``key`` (in the caller's terms) in train mode, when an
        ``eval()`` of it comes only later in a loop around the call (``protos = embed(encoder,
        support)`` then ``encoder.eval()`` in an episode loop: the eval() reaches the call from the
        second iteration on)? True when the last switch of ``key`` before the call in the caller
        (``events``, its summary) is an unconditional ``train()`` (also a new module: ``net =
        Net()``), or, with no switch there, when every call of the caller reaches it that way
        (``train_epoch(encoder)`` then ``evaluate(encoder)``; parameters followed to the callers'
        arguments, up to two levels). Unknown (no switch seen, a conditional one, an object the
        callers cannot name) is False."""
        line = site.node.lineno
        before = [e for e in events if e.kind in ("train", "eval", "bnfreeze", "bnfreeze?") and e.key is not None
                  and same_object(e.key, key) and e.sites[0][1].lineno < line]
        if before:
            last = before[-1]
            return last.kind == "train" and not last.guards
        if depth >= 2 or site.scope is None or not key or not key[0].startswith("$") or key[0] == "$self":
            return False
        fi = self.function_info.get(id(site.scope))
        if fi is None:
            return False
        callers = [c for c, _unique in self.callers_of(site.scope) if c.scope is not site.scope]
        if not callers:
            return False
        for c in callers:
            params = _named_params(c.scope) if c.scope is not None else set()
            receiver = c.node.func.value if isinstance(c.node.func, ast.Attribute) else None
            bound = self.bind(fi, c.node, lambda e, ps=params: receiver_key(e, {}, ps), receiver)
            bkey = bound.get(key[0][1:], (None, ""))[0]
            if bkey is None:
                return False
            cevents = self.summary(c.scope) if c.scope is not None else self.module_summary(c.module)
            if not self.first_run_in_train_mode(c, bkey + key[1:], cevents, depth + 1):
                return False
        return True

    def _own_train_method(self, module: Module, call: ast.Call, scope: Optional[FuncNode]) -> bool:
        """``self.train(loader)`` / ``super().train(mode)`` running a ``train`` method of the
        project (a trainer's epoch, a module's override): that method's body is followed, and its
        argument is no mode flag of ``nn.Module.train``."""
        receiver = call.func.value  # type: ignore[attr-defined]
        if not (isinstance(receiver, ast.Name) and receiver.id == "self" or isinstance(receiver, ast.Call)
                and isinstance(receiver.func, ast.Name) and receiver.func.id == "super"):
            return False
        cands, unique = self.resolve(module, call, scope)
        return unique and bool(cands) and cands[0].cls is not None

    def _flag_branches(self, call: ast.Call, module: Module, guards: tuple) -> tuple[str, tuple]:
        """``x.train(flag)`` as ``if flag: x.train() else: x.eval()``: (the call's kind, its
        (kind, guards) events). A flag whose every value the project shows is false is an eval();
        an undecided one gives an eval() under ``not flag`` followed by a train() under ``flag``, so
        that a caller's constant argument picks one and an unknown flag still restores the mode.
        An attribute flag is resolved through the project's stores (a dataclass field default left
        at construction); ``x.training`` is not: ``nn.Module`` sets it where no store is seen."""
        flag = mode_flag(call)
        if flag is None:
            return "train", (("train", guards),)
        test, pol = guard_of(flag)
        inner = flag.operand if isinstance(flag, ast.UnaryOp) and isinstance(flag.op, ast.Not) else flag
        if isinstance(inner, ast.Attribute) and inner.attr != "training" and not any(
                isinstance(n, ast.Attribute) and n.attr == "training" for n in astwalk.walk(inner)):
            vals = possible_values(flag, module, self.project)
            if always_false_values(vals):
                return "eval", (("eval", guards),)
            if always_true_values(vals):
                return "train", (("train", guards),)
            shipped = resolver(self.project).command_line_default(inner, module, module.scope_of(call))
            if shipped is not None:  # ``model.train(args.train_mode)``, ``--train-mode`` a store_true flag
                return ("train", (("train", guards),)) if bool(shipped[0]) == pol else ("eval", (("eval", guards),))
        return "train", (("eval", guards + ((test, not pol),)), ("train", guards + ((test, pol),)))

    def _option_default_arguments(self, fi: FunctionInfo, call: ast.Call, module: Module, scope: Optional[FuncNode],
                                  sub: list[Event], constants: dict[str, object]) -> dict[str, object]:
        """Parameters of ``fi`` that this call binds to a command-line option whose default decides
        them (``train_one_epoch(..., set_training_mode=args.train_mode)`` where ``--train-mode`` is a
        ``store_true`` flag and nothing sets another default): the program run as shipped passes that
        value, as a literal argument would. Only parameters that the callee's events test."""
        if any(isinstance(x, ast.Starred) for x in call.args) or any(k.arg is None for k in call.keywords):
            return {}
        passed = [(name, value) for name, value in call_arguments(fi, call)[1].items()
                  if isinstance(value, ast.Attribute) and name not in constants]
        if not passed:
            return {}
        tested = {n for ev in sub for test, _pol in ev.guards for n in _GUARD_NAMES.findall(test)}
        out: dict[str, object] = {}
        for name, value in passed:
            if name in tested:
                found = resolver(self.project).command_line_default(value, module, scope)
                if found is not None:
                    out[name] = found[0]
        return out

    def _bn_freeze(self, call: ast.Call, module: Module, scope: Optional[FuncNode], loops: tuple,
                   guards: tuple) -> Optional[tuple[ast.AST, tuple, tuple]]:
        """Is this ``eval()`` a deliberate BatchNorm freeze? Either the BN layers picked out of a
        module (``for m in model.modules(): if isinstance(m, nn.BatchNorm2d): m.eval()``), or a
        sub-module whose parameters the same function freezes (``self.encoder.eval()`` beside
        ``requires_grad = False`` on ``self.encoder``). Returns (the frozen object's expression, the
        loops and ``if`` tests around the freeze as a whole)."""
        receiver = call.func.value  # type: ignore[attr-defined]
        stored = module.parent(call)
        if isinstance(receiver, ast.Name) and isinstance(stored, ast.Assign) and len(stored.targets) == 1 \
                and isinstance(stored.targets[0], ast.Attribute):
            # ``self.teacher = teacher.eval()`` beside ``self.teacher.requires_grad_(False)``: the
            # attribute is the frozen sub-module
            target = dotted(stored.targets[0])
            if target and _freezes_parameters_of(scope if scope is not None else module.tree, target):
                return stored.targets[0], loops, guards
            return None
        if isinstance(receiver, ast.Name):
            for i in range(len(loops) - 1, -1, -1):
                lp = loops[i]
                if not isinstance(lp, (ast.For, ast.AsyncFor)):
                    continue
                bound = [t.id for t in astwalk.walk(lp.target) if isinstance(t, ast.Name)]
                if receiver.id not in bound:
                    continue
                it = lp.iter
                if isinstance(it, ast.Name):
                    it = _aliased_submodule_iterator(module, lp, it.id)
                if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute)
                        and it.func.attr in _SUBMODULE_ITERATORS):
                    return None
                if not any(pol and _BN_GUARD.search(test) for test, pol in guards):
                    return None  # every sub-module in eval mode: model.eval(), not a BN freeze
                words = re.compile(r"\b(" + "|".join(map(re.escape, bound)) + r")\b")
                outer = tuple(g for g in guards if not _BN_GUARD.search(g[0]) and not words.search(g[0]))
                return it.func.value, loops[:i], outer
            return None
        text = dotted(receiver)
        if text is None or "." not in text or not _freezes_parameters_of(scope if scope is not None else module.tree, text):
            return None
        return receiver, loops, guards

    def _applies_bn_freeze(self, module: Module, arg: ast.AST) -> bool:
        return applies_bn_freeze(self.project, module, arg)

    @staticmethod
    def bind(fi: FunctionInfo, call: ast.Call, arg_key, receiver: Optional[ast.AST]) -> dict[str, tuple[Key, str]]:
        """Parameter name -> (key, text) in the caller's terms."""
        self_name, passed = call_arguments(fi, call)
        bound = {p: arg_key(_single_dict_value(a)) for p, a in passed.items()}
        if self_name is not None and receiver is not None:
            bound[self_name] = arg_key(receiver)
        return bound

    def _attribute_bindings(self, fi: FunctionInfo, receiver: str, scope: ast.AST, arg_key) -> dict[str, tuple[Key, str]]:
        """``search = TriggerSearch(net)`` and ``self.model = model`` in ``__init__``: inside the
        methods of ``search``, ``self.model`` is ``net`` ("@model" -> key of ``net``)."""
        out: dict[str, tuple[Key, str]] = {}
        ctor = None
        for value in call_assignments(scope).get(receiver, ()):
            if (dotted(value.func) or "").rsplit(".", 1)[-1] == fi.cls.name:  # type: ignore[union-attr]
                ctor = value
        if ctor is None:
            return out
        init = next((f for f in fi.cls.body if isinstance(f, ast.FunctionDef) and f.name == "__init__"), None)  # type: ignore[union-attr]
        if init is None:
            return out
        init_info = self.function_info.get(id(init))
        if init_info is None:
            return out
        params = self.bind(init_info, ctor, arg_key, None)
        for attr, value_name in _self_attributes_from_names(init):
            if value_name in params:
                out["@" + attr] = params[value_name]
        return out

    def _wrapped_freezes(self, module: Module, call: ast.Call, init: FunctionInfo, events: list[Event], arg_key,
                         scope: Optional[FuncNode], loops: tuple, guards: tuple) -> tuple[list[Event], list[tuple]]:
        """``model = SegNet(encoder, n)`` (or ``return SegNet(encoder, n)``) after a BN freeze of
        ``encoder`` in this body, ``SegNet`` a project ``nn.Module`` whose ``__init__`` stores
        ``self.encoder = encoder``: the frozen layers are now ``model.encoder``, which
        ``model.train()`` switches back (``Module.train`` recurses into every child). The freeze,
        again under the new name (the returned object's is bound by the caller, ``_returned_binding``),
        and the renames, (old key, old text, new key, new text) for each module handed in."""
        if isinstance(call.func, ast.Attribute) and call.func.attr == "__init__" or init.cls is None \
                or not self._module_class(init.cls, module):
            return [], []
        if isinstance(module.parent(call), ast.Return) and scope is not None:
            tkey, ttext = (RETURNED,), RETURNED
        else:
            target = _assigned_target(call, module)
            if target is None:
                return [], []
            tkey, ttext = arg_key(target)
            if not tkey or not ttext:
                return [], []
        assigned = [t.attr for n in astwalk.walk(init.node) for t in _binding_targets(n)
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"]
        _self, passed = call_arguments(init, call)
        out: list[Event] = []
        renames: list[tuple] = []
        for attr, name in _self_attributes_from_names(init.node):
            arg = passed.get(name)
            if assigned.count(attr) != 1 or not isinstance(arg, (ast.Name, ast.Attribute, ast.Call)):
                continue
            akey, atext = ((NEW,), NEW) if isinstance(arg, ast.Call) else arg_key(arg)
            if not akey or not atext or akey == tkey:
                continue
            if not isinstance(arg, ast.Call):
                renames.append((akey, atext, tkey + (attr,), ttext + "." + attr))
            for ev in events:
                if ev.kind == "bnfreeze" and ev.key and ev.key[:len(akey)] == akey \
                        and (ev.text == atext or ev.text.startswith(atext + ".")) \
                        and (not isinstance(arg, ast.Call) or ev.sites[0][1] is arg):
                    out.append(replace(ev, key=tkey + (attr,) + ev.key[len(akey):],
                                       text=ttext + "." + attr + ev.text[len(atext):], loops=loops,
                                       guards=tuple(dict.fromkeys(ev.guards + guards))))
        return out, renames

    def _module_class(self, cls: ast.ClassDef, module: Module, depth: int = 0) -> bool:
        """An ``nn.Module`` subclass: directly, or through project base classes of the import
        component (by the names in the ``class`` statements)."""
        component = self.project.import_component(module)
        for b in cls.bases:
            d = dotted(b) or ""
            if (module.qualname(b) or "") == "torch.nn.Module" or d in ("nn.Module", "torch.nn.Module"):
                return True
            name = d.rsplit(".", 1)[-1]
            if name and depth < 3 and any(c is not cls and id(m) in component and self._module_class(c, m, depth + 1)
                                          for c, m in self.project.classes_by_name.get(name, ())):
                return True
        return False

    # --- summaries ------------------------------------------------------------------------------
    def summary(self, fn: FuncNode) -> list[Event]:
        k = id(fn)
        if k in self._summaries:
            return self._summaries[k]
        if k in self._in_progress or len(self._in_progress) >= MAX_DEPTH:
            return []
        if not self.may_produce("any", fn, self.module_of[k]):
            self._summaries[k] = []  # no call in it can lead to an event: nothing to walk
            return []
        self._in_progress.add(k)
        try:
            module = self.module_of[k]
            params = set(_params(fn))
            fi = self.function_info.get(k)
            if fi is not None and fi.cls is not None and fn.args.args:
                params.discard(fn.args.args[0].arg)  # ``self`` handled as the receiver
            events = self._walk_body(fn.body, module, fn, params)
        finally:
            self._in_progress.discard(k)
        self._summaries[k] = events
        return events

    def module_summary(self, module: Module) -> list[Event]:
        key = ("module-summary", id(module))
        cached = self.project.facts.get(key)  # type: ignore[arg-type]
        if cached is None and not self.may_produce("any", None, module):
            cached = self.project.facts[key] = []  # type: ignore[index]
        if cached is None:
            body = [s for s in module.tree.body if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
            cached = self._walk_body(body, module, None, set())
            self.project.facts[key] = cached  # type: ignore[index]
        return cached  # type: ignore[return-value]

    def _walk_body(self, body: Sequence[ast.stmt], module: Module, scope: Optional[FuncNode], params: set[str]) -> list[Event]:
        events: list[Event] = []
        seen: set = set()

        def add(ev: Event, depth: int = 0) -> None:
            # One event per (kind, object, call site here, loops, guards): a callee reached through
            # several candidates, or one whose own callees repeat a switch, adds nothing new but
            # would fill the summary up to MAX_EVENTS and push out the events that come later.
            sig = (ev.kind, ev.key, id(ev.sites[0][1]), tuple(map(id, ev.loops)), ev.guards, ev.fresh)
            if sig not in seen:
                seen.add(sig)
                events.append(replace(ev, exits=tuple(exits) + ev.exits) if exits else ev)
                if wrapped and depth < 2 and ev.kind in ("bnfreeze", "bnfreeze?", "eval") and ev.key and not ev.fresh:
                    # the freeze applied again (or eval()) through the old name of a module wrapped
                    # since (``set_bn_eval(encoder)`` after ``model.train()``): it also holds for
                    # ``model.encoder`` (it may restore, never accuse)
                    for akey, atext, tkey, ttext in wrapped:
                        if ev.key[:len(akey)] == akey and (ev.text == atext or ev.text.startswith(atext + ".")):
                            add(replace(ev, kind="bnfreeze?", key=tkey + ev.key[len(akey):],
                                        text=ttext + ev.text[len(atext):]), depth + 1)
        wrapped: list = []  # (key, text) of a frozen module -> (key, text) of the wrapper's attribute holding it
        exits: list = []  # the returns walked so far: they may skip every event after them
        names: list = []  # [aliases, local names], computed at the first key asked for: most bodies
        # produce no event and bind no callee, and these two walks were most of the cost

        def arg_key(expr: ast.AST) -> tuple[Key, str]:
            over = each.get(expr.id) if isinstance(expr, ast.Name) else None
            if isinstance(over, str) and not over.startswith("$"):
                # `for m in models: train(m)`: each element of the function's own list, as the
                # list's elements are named elsewhere (`models[i]`)
                return (over, EACH), expr.id
            if not names:
                names.append(_local_aliases(body, params))
                names.append(_assigned_names(body) - params if scope is not None else frozenset())
            key, text = receiver_key(expr, names[0], params, names[1])
            if key and key[0].startswith("%"):
                if len(names) < 3:  # only bodies that switch or step a local need this walk
                    names.append(_fresh_locals(body, names[1]))
                if key[0][1:] in names[2]:
                    key = ("%" + key[0],) + key[1:]
            return key, text

        each: dict[str, object] = {}  # loop variable -> the listed modules, or "$param" it runs over
        rebound: list = []  # [names the body binds], computed at the first call that may forward a parameter

        def on_call(call: ast.Call, loops: tuple, guards: tuple) -> None:
            if len(events) > MAX_EVENTS:
                return
            kind = mode_call(call, scope)
            if kind == "train" and _switches_non_bn_layers_only(call, loops, guards):
                return  # MC dropout's train() of the Dropout modules alone: every BN layer keeps its mode
            site = ((module, call),)
            if kind is not None and self._plain_object_method(module, call, scope):
                kind = None  # learner.eval() of a plain wrapper object: what its eval() method does counts
            branches: tuple = ((kind, guards),)
            if kind == "train" and not self._own_train_method(module, call, scope):
                kind, branches = self._flag_branches(call, module, guards)
            if kind is not None:
                receiver = call.func.value  # type: ignore[attr-defined]
                over = each.get(receiver.id) if isinstance(receiver, ast.Name) else None
                for one_kind, one_guards in branches:
                    if isinstance(over, list):  # for m in (encoder, decoder): m.eval()
                        for elt in over:
                            key, text = arg_key(elt)
                            add(Event(one_kind, key, text, site, loops, one_guards))
                    elif isinstance(over, str):  # for m in models: m.eval(), models a parameter
                        add(Event(one_kind, (over, EACH), receiver.id, site, loops, one_guards))
                    else:
                        key, text = arg_key(receiver)
                        add(Event(one_kind, key, text, site, loops, one_guards))
                if kind == "eval":
                    freeze = self._bn_freeze(call, module, scope, loops, guards)
                    if freeze is not None:
                        target, outer_loops, outer_guards = freeze
                        key, text = arg_key(target)
                        add(Event("bnfreeze", key, text, site, outer_loops, outer_guards))
            elif isinstance(call.func, ast.Attribute) and call.func.attr == "apply" and len(call.args) == 1 \
                    and self._applies_bn_freeze(module, call.args[0]):
                # model.apply(set_bn_eval), where set_bn_eval(m) puts the BatchNorm layers in eval mode
                key, text = arg_key(call.func.value)
                add(Event("bnfreeze", key, text, site, loops, guards))
            if kind is None and isinstance(call.func, ast.Attribute) \
                    and call.func.attr in ("requires_grad_", "parameters", "named_parameters") \
                    and freezes_with_eval(self.project):
                target = unfreeze_target(call, module)
                if target is not None:
                    key, text = arg_key(target)
                    add(Event("unfreeze", key, text, site, loops, guards))
            if is_optimizer_step(call, module) and not _optimizes_input_tensors(call, scope, module):
                okey, otext = arg_key(stepped_optimizer(call))
                add(Event("step", okey, otext, site, loops, guards))
                return
            if kind == "eval":
                return
            cands, unique = self.resolve(module, call, scope)
            if unique and kind is None and cands[0].name == "__init__" and any(e.kind == "bnfreeze" and e.text for e in events):
                found, renames = self._wrapped_freezes(module, call, cands[0], events, arg_key, scope, loops, guards)
                wrapped.extend(renames)
                for ev in found:
                    add(ev)
            if unique and kind is not None and self._foreign_plain_method(module, call, scope, cands[0]):
                # ``controller.train()`` on a module handed in, resolved by name to the ``train(self)``
                # of a plain trainer class it is not built from: the Module switch (recorded above);
                # that method may restore, never accuse
                unique = False
            if cands and kind is not None and not all(_may_bind(fi, call) for fi in cands):
                # ``self.model.train()`` resolved by name to the learner's own ``train(self, shareable,
                # fl_ctx, abort_signal)``: a call that cannot bind that method's arguments never runs
                # it; it is the Module mode switch (already recorded above)
                cands = [fi for fi in cands if _may_bind(fi, call)]
                if not cands:
                    return
            if not cands:
                passed = self.callable_argument(module, call, scope)
                if passed is None:
                    return
                # ``on_log(model, step)`` runs the function every caller passes for ``on_log``
                cands, unique, call = [passed[0]], True, passed[1]
            receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
            if receiver is None and isinstance(call.func, ast.Name) and cands and cands[0].name == "__call__" \
                    and cands[0].cls is not None:
                receiver = call.func  # `labeler(x)`: the object is the ``self`` of its ``__call__``
            dispatched = self._container_dispatch(module, call, loops, cands) if not unique else ()
            for fi in (dispatched or cands[:4]):
                if self.function_info.get(id(fi.node)) is None:
                    continue
                sub = self.summary(fi.node)
                if not sub:
                    continue
                bound = self.bind(fi, call, arg_key, receiver)
                if fi.cls is not None and isinstance(receiver, ast.Name):
                    bound.update(self._attribute_bindings(fi, receiver.id, scope if scope is not None else module.tree, arg_key))
                bound.update(_returned_binding(fi, call, module, arg_key))
                constants = _constant_arguments(fi, call)
                constants.update(self._option_default_arguments(fi, call, module, scope, sub, constants))
                if params and not rebound:
                    rebound.append(_assigned_names(body))
                forwarded = _forwarded_parameters(fi, call, params, rebound[0]) if params else {}
                # ``Cls(...)`` runs ``__init__`` on a new object: the modules it builds into its own
                # attributes are new too, and restore nothing the caller holds.
                constructs = fi.name == "__init__" and not (isinstance(call.func, ast.Attribute) and call.func.attr == "__init__")
                built = _constructed_binding(call, module, arg_key) if constructs else {}
                for ev in sub:
                    ev_bound = bound
                    if built and ev.kind == "bnfreeze" and ev.key and (ev.key[0] == "$self" or ev.text.startswith("self.")):
                        # ``net = Net(freeze_bn=True)`` whose ``__init__`` freezes its own BN layers:
                        # the freeze is on ``net`` (only a freeze: the constructor's other switches
                        # act on parts of the new object that the caller's code never switched).
                        # ``self.model = model`` then names the caller's ``model``, as in the
                        # other methods (``_attribute_bindings``).
                        ev_bound = {**bound, **built, **_stored_arguments(fi, bound)}
                    if not unique and ev.kind == "bnfreeze":
                        ev = replace(ev, kind="bnfreeze?")  # it may re-apply a BN freeze
                    if not unique and ev.kind not in ("train", "bnfreeze?") \
                            and not (ev.kind == "eval" and dispatched):
                        continue  # an ambiguous callee may restore, never accuse
                    if constructs and ev.fresh:
                        continue
                    if ev.kind == "step" and _steps_unpassed_default(fi, call, ev.key):
                        continue  # `optimizer.step()` on an `optimizer=None` this call leaves out: never runs from here
                    ev = _decide_guards(ev, constants, call, forwarded)
                    if ev is None:
                        continue  # under a test this call's arguments make false: never runs from here
                    if ev.exits:
                        ev = _decide_exits(ev, constants, call)
                    for one, one_bound in _each_listed(ev, ev_bound, fi, call, arg_key):
                        rebased = _rebase(one, one_bound, site, loops, guards)
                        if rebased is None or rebased.fresh and rebased.key is None:
                            continue  # the callee's own new object: restores nothing the caller holds
                        add(rebased)

        def walk(stmts: Sequence[ast.stmt], loops: tuple, guards: tuple) -> None:
            for st in stmts:
                if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    continue
                if isinstance(st, ast.If):
                    for c in _calls_in_order(st.test):
                        on_call(c, loops, guards)
                    test, pol = guard_of(st.test)
                    walk(st.body, loops, guards + ((test, pol),))
                    walk(st.orelse, loops, guards + ((test, not pol),))
                    # `if not train: continue` / `return`: what follows runs only on the other branch
                    if _exits(st.body) and not _exits(st.orelse):
                        guards = guards + ((test, not pol),)
                    elif _exits(st.orelse) and not _exits(st.body):
                        guards = guards + ((test, pol),)
                elif isinstance(st, (ast.Expr, ast.Assign, ast.AnnAssign)) and isinstance(st.value, ast.IfExp):
                    # `net.train() if training else net.eval()`, also assigned back
                    # (`model = model.train() if is_train else model.eval()`)
                    for c in _calls_in_order(st.value.test):
                        on_call(c, loops, guards)
                    test, pol = guard_of(st.value.test)
                    for c in _calls_in_order(st.value.body):
                        on_call(c, loops, guards + ((test, pol),))
                    for c in _calls_in_order(st.value.orelse):
                        on_call(c, loops, guards + ((test, not pol),))
                elif isinstance(st, LOOP_TYPES):
                    head = st.iter if isinstance(st, (ast.For, ast.AsyncFor)) else st.test
                    first = len(events)
                    for c in _calls_in_order(head):
                        on_call(c, loops, guards)
                    if isinstance(st, (ast.For, ast.AsyncFor)) and len(events) > first:
                        # `for step, loss in train_steps(...)`: the generator's loop resumes in every
                        # iteration of this one, between this loop's bodies
                        self._resumed_generator(events, first, st, loops, module, scope)
                    var = st.target.id if isinstance(st, (ast.For, ast.AsyncFor)) and isinstance(st.target, ast.Name) else None
                    if var is None and isinstance(st, (ast.For, ast.AsyncFor)):
                        # for i, m in enumerate(models) / for m, loader in zip(models, loaders):
                        # the element variable that runs over the list of models
                        var, head = _element_variable(st.target, head)
                    saved = each.get(var) if var else None
                    if var and isinstance(head, (ast.List, ast.Tuple)) and head.elts and all(
                            isinstance(e, (ast.Name, ast.Attribute)) for e in head.elts):
                        each[var] = list(head.elts)
                    elif var and isinstance(head, ast.Name) and head.id in params:
                        each[var] = "$" + head.id
                    elif var and isinstance(head, (ast.Name, ast.Attribute)):
                        # for m in members: m.eval() over a list of the function's own (or self's):
                        # each element of that list, as a caller or callee names it
                        hkey = arg_key(head)[0]
                        if hkey is not None and len(hkey) == 1:
                            each[var] = hkey[0]
                    walk(st.body, loops + (st,), guards)
                    if var:
                        each.pop(var, None)
                        if saved is not None:
                            each[var] = saved
                    walk(st.orelse, loops, guards)
                elif isinstance(st, (ast.With, ast.AsyncWith)):
                    for item in st.items:
                        for c in _calls_in_order(item.context_expr):
                            on_call(c, loops, guards)
                    walk(st.body, loops, guards)
                elif isinstance(st, ast.Try) or type(st).__name__ == "TryStar":
                    before = len(exits)
                    walk(st.body, loops, guards)
                    for h in st.handlers:
                        walk(h.body, loops, guards)
                    walk(st.orelse, loops, guards)
                    returned = exits[before:]
                    del exits[before:]  # `finally:` runs on a return too
                    walk(st.finalbody, loops, guards)
                    exits.extend(returned)
                elif isinstance(st, ast.Match):
                    for c in _calls_in_order(st.subject):
                        on_call(c, loops, guards)
                    for case in st.cases:
                        walk(case.body, loops, guards)
                else:
                    calls = _calls_in_order(st)
                    listed = _listed_comprehension_calls(st) if any(
                        isinstance(c.func, ast.Attribute) and c.func.attr in ("train", "eval") for c in calls) else {}
                    for c in calls:
                        if id(c) not in listed:
                            on_call(c, loops, guards)
                            continue
                        # `[x.eval() for x in (encoder, head)]`: the switch of each listed module
                        var, elts = listed[id(c)]
                        saved = each.get(var)
                        each[var] = elts
                        on_call(c, loops, guards)
                        each.pop(var, None)
                        if saved is not None:
                            each[var] = saved
                    if isinstance(st, ast.Return) and scope is not None:
                        exits.append((st, module, guards, ""))
                    if isinstance(st, ast.Assign) and len(st.targets) == 1:
                        target = dotted(st.targets[0])
                        if target and len(events) <= MAX_EVENTS \
                                and (_builds_new_module(st.value, target)
                                     and not self.filled_only_with_eval_modules(module, st.value, target, body, scope)
                                     or self.factory_rebuilds(module, st.value, target, scope)):
                            key, text = arg_key(st.targets[0])
                            if key is not None:
                                add(Event("train", key, text, ((module, st.value),), loops, guards, fresh=True))
                                switch = _outer_mode_switch(st.value)
                                if switch is not None:
                                    # `model = Net().eval()`: the new module is in eval mode from here
                                    add(Event("eval", key, text, ((module, switch),), loops, guards))

        walk(body, (), ())
        return events


def _listed_comprehension_calls(st: ast.stmt) -> dict[int, tuple[str, list]]:
    """The calls in the element of a comprehension that runs one name over a literal list of modules
    (``_ = [x.train() for x in (net, head)]``, ``list(map(...))`` not included): call id -> (the
    variable, the listed modules), as a ``for`` statement over the same list would give them."""
    out: dict[int, tuple[str, list]] = {}
    for n in astwalk.walk(st):
        if not isinstance(n, (ast.ListComp, ast.SetComp, ast.GeneratorExp)) or len(n.generators) != 1:
            continue
        gen = n.generators[0]
        if gen.ifs or not isinstance(gen.target, ast.Name) or not isinstance(gen.iter, (ast.List, ast.Tuple)) \
                or not gen.iter.elts or not all(isinstance(e, (ast.Name, ast.Attribute)) for e in gen.iter.elts):
            continue
        for c in astwalk.walk(n.elt):
            if isinstance(c, ast.Call):
                out[id(c)] = (gen.target.id, list(gen.iter.elts))
    return out


def _non_bn_type_test(test: ast.AST, var: str, derived: frozenset = frozenset()) -> bool:
    """Is ``test`` true only for a sub-module ``var`` of a non-BN leaf type (``derived``: the names
    computed from it, or its name from ``named_modules()``)? ``isinstance(m,
    nn.Dropout)``, ``type(m) in (nn.Dropout, nn.Dropout2d)``, ``m.__class__.__name__.startswith(
    'Dropout')``, ``classname.find('Dropout') != -1``, ``'dropout' in name``. A conjunction needs
    one such operand, a disjunction all of them; a class the test names must be one of torch.nn's
    leaf layers that hold no BatchNorm (a project block may hold BN)."""
    if isinstance(test, ast.BoolOp):
        parts = [_non_bn_type_test(v, var, derived) for v in test.values]
        return any(parts) if isinstance(test.op, ast.And) else all(parts)
    if _BN_GUARD.search(ast.unparse(test)):
        return False
    classes: list[ast.AST] = []
    reads_var = False
    for n in astwalk.walk(test):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "isinstance" and len(n.args) == 2:
            reads_var = reads_var or isinstance(n.args[0], ast.Name) and n.args[0].id == var
            types = n.args[1]
            classes.extend(types.elts if isinstance(types, (ast.Tuple, ast.List)) else [types])
        elif isinstance(n, ast.Compare) and isinstance(n.left, ast.Call) and isinstance(n.left.func, ast.Name) \
                and n.left.func.id == "type" and n.left.args and isinstance(n.left.args[0], ast.Name) \
                and n.left.args[0].id == var and len(n.ops) == 1 and isinstance(n.ops[0], (ast.Eq, ast.Is, ast.In)):
            reads_var = True
            right = n.comparators[0]
            classes.extend(right.elts if isinstance(right, (ast.Tuple, ast.List, ast.Set)) else [right])
    if classes:
        return reads_var and all((dotted(c) or "").rsplit(".", 1)[-1] and _NON_BN_LEAF.match(
            (dotted(c) or "").rsplit(".", 1)[-1]) for c in classes)
    # a test of the class or sub-module name: every literal names a dropout layer
    strings = [n.value for n in astwalk.walk(test) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    if not strings or not all(re.search(r"drop", v, re.I) for v in strings) \
            or not any(isinstance(n, ast.Name) and (n.id == var or n.id in derived) for n in astwalk.walk(test)):
        return False
    return isinstance(test, ast.Compare) or isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute) \
        and test.func.attr in ("startswith", "endswith")


def _switches_non_bn_layers_only(call: ast.Call, loops: tuple, guards: tuple) -> bool:
    """``for m in model.modules(): if isinstance(m, nn.Dropout): m.train()``: train() of the
    sub-modules of a non-BN leaf type only (Monte-Carlo dropout). Every BatchNorm layer keeps its
    mode: this is no ``model.train()`` and restores nothing."""
    receiver = call.func.value  # type: ignore[attr-defined]
    if not isinstance(receiver, ast.Name) or not guards:
        return False
    loop = next((lp for lp in reversed(loops) if isinstance(lp, (ast.For, ast.AsyncFor))
                 and any(isinstance(t, ast.Name) and t.id == receiver.id for t in astwalk.walk(lp.target))), None)
    if loop is None:
        return False
    it = loop.iter
    if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Attribute) and it.func.attr in _SUBMODULE_ITERATORS):
        return False
    names = {t.id for t in astwalk.walk(loop.target) if isinstance(t, ast.Name)}  # ``for name, m in ...``
    # ``classname = m.__class__.__name__`` in the loop: read from the loop's names
    derived = frozenset(names | {t.id for st in astwalk.walk(loop) if isinstance(st, ast.Assign)
                                 and any(isinstance(x, ast.Name) and x.id in names for x in astwalk.walk(st.value))
                                 for t in st.targets if isinstance(t, ast.Name)})
    for test, pol in guards:
        node = _parsed_test(test) if pol else None
        if node is not None and _non_bn_type_test(node, receiver.id, derived):
            return True
    return False


def applies_bn_freeze(project: Project, module: Module, arg: ast.AST) -> bool:
    """``model.apply(fn)`` where ``fn`` is a project function that puts its argument in eval mode
    when it is a BatchNorm layer (``if classname.find('BatchNorm') != -1: m.eval()``)."""
    if not isinstance(arg, ast.Name):
        return False
    cands = [fi for fi in project.functions(arg.id) if fi.cls is None]
    same = [fi for fi in cands if fi.module is module]
    return any(_freezes_bn_argument(fi.node) for fi in (same or cands)[:4])


@per_node
def _freezes_bn_argument(fn: ast.AST) -> bool:
    """Does ``fn(m)`` call ``m.eval()`` / ``m.train(False)`` under an ``if`` that selects BatchNorm?"""
    args = fn.args.posonlyargs + fn.args.args  # type: ignore[attr-defined]
    if len(args) != 1:
        return False
    return evals_when_bn(fn, args[0].arg)


def evals_when_bn(node: ast.AST, name: str) -> bool:
    """Does ``node`` call ``name.eval()`` / ``name.train(False)`` under an ``if`` that selects
    BatchNorm (``if isinstance(name, nn.BatchNorm2d):``, ``if classname.find('BatchNorm') != -1:``)?"""
    for n in astwalk.walk(node):
        if isinstance(n, ast.If) and _BN_GUARD.search(ast.unparse(n.test)):
            for c in (x for st in n.body for x in astwalk.walk(st)):
                if isinstance(c, ast.Call) and mode_call(c) == "eval" and isinstance(c.func.value, ast.Name) \
                        and c.func.value.id == name:  # type: ignore[attr-defined]
                    return True
    return False


@per_node
def parameter_freezes(scope: ast.AST) -> tuple[ast.AST, ...]:
    """The objects whose parameters ``scope`` freezes, as written: ``x.requires_grad_(False)``,
    ``for p in x.parameters(): p.requires_grad = False`` (also ``named_parameters()``)."""
    out: list[ast.AST] = []
    for n in astwalk.walk(scope):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "requires_grad_" \
                and n.args and isinstance(n.args[0], ast.Constant) and n.args[0].value is False:
            out.append(n.func.value)
        elif isinstance(n, ast.For) and isinstance(n.iter, ast.Call) and isinstance(n.iter.func, ast.Attribute) \
                and n.iter.func.attr in ("parameters", "named_parameters"):
            if any(isinstance(a, ast.Assign) and isinstance(a.value, ast.Constant) and a.value.value is False
                   and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" for t in a.targets)
                   for st in n.body for a in astwalk.walk(st)):
                out.append(n.iter.func.value)
    return tuple(out)


def _freezes_parameters_of(scope: ast.AST, text: str) -> bool:
    return any(dotted(x) == text for x in parameter_freezes(scope))


def unfreeze_target(call: ast.Call, module: Module) -> Optional[ast.AST]:
    """The module whose parameters ``call`` makes trainable again, as written: ``x.requires_grad_()`` /
    ``x.requires_grad_(True)`` as a statement, or ``x.parameters()`` / ``x.named_parameters()`` as the
    iterable of a ``for`` whose body sets ``p.requires_grad = True`` (``p.requires_grad_(True)``) on
    every element, unconditionally. None otherwise (a filtered loop unfreezes part of ``x`` only)."""
    f = call.func
    if not isinstance(f, ast.Attribute):
        return None
    if f.attr == "requires_grad_":
        flag = call.args[0] if call.args else next((k.value for k in call.keywords if k.arg == "requires_grad"), None)
        if flag is not None and not (isinstance(flag, ast.Constant) and flag.value is True) \
                or not isinstance(module.parents.get(call), ast.Expr) or dotted(f.value) is None:
            return None
        return f.value
    if f.attr not in ("parameters", "named_parameters"):
        return None
    loop = module.parents.get(call)
    if not isinstance(loop, (ast.For, ast.AsyncFor)) or loop.iter is not call:
        return None
    var = loop.target
    if f.attr == "named_parameters":
        var = var.elts[-1] if isinstance(var, ast.Tuple) and len(var.elts) == 2 else None
    if not isinstance(var, ast.Name):
        return None
    for st in loop.body:
        if isinstance(st, ast.Assign) and isinstance(st.value, ast.Constant) and st.value.value is True \
                and any(isinstance(t, ast.Attribute) and t.attr == "requires_grad" and isinstance(t.value, ast.Name)
                        and t.value.id == var.id for t in st.targets):
            return f.value
        if isinstance(st, ast.Expr) and isinstance(st.value, ast.Call) and isinstance(st.value.func, ast.Attribute) \
                and st.value.func.attr == "requires_grad_" and isinstance(st.value.func.value, ast.Name) \
                and st.value.func.value.id == var.id and all(isinstance(a, ast.Constant) and a.value is True for a in st.value.args):
            return f.value
    return None


_PARAMETER_FREEZE_TEXT = re.compile(r"\.requires_grad(_\(|\s*=)\s*False")  # not the `requires_grad=False` keyword


def freezes_with_eval(project: Project) -> bool:
    """Does some function of the project freeze a module both ways, its parameters
    (``requires_grad = False``) and its mode (``x.eval()``)? Only then can an unfreeze that restores
    the parameters alone leave a module in eval mode for training: the flow records unfreezes
    (events "unfreeze") in such projects only."""

    def compute(p: Project) -> bool:
        for m in p.modules:
            if not (m.mentions("requires_grad") and (m.mentions("eval") or m.mentions("train("))) \
                    or not _PARAMETER_FREEZE_TEXT.search(m.unit.text):
                continue
            for fi in m.functions:
                frozen = {dotted(x) for x in parameter_freezes(fi.node)} - {None}
                if frozen and any(isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in ("eval", "train")
                                  and mode_call(n) == "eval" and dotted(n.func.value) in frozen for n in astwalk.walk(fi.node)):
                    return True
        return False

    return project.fact("torchflow.freezes_with_eval", compute)


def same_object_base(value: ast.AST) -> ast.AST:
    """``Net().to(device).eval()`` -> ``Net()``: Module methods that return the module itself."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _SAME_OBJECT_METHODS:
        value = value.func.value
    return value


def _outer_mode_switch(value: ast.AST) -> Optional[ast.Call]:
    """The ``eval()`` / ``train(False)`` call that decides the mode of ``Net(...).eval().to(device)``
    (the last switch of the chain of same-object methods), None when the chain's last switch is a
    ``train()`` or there is none."""
    while isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute) and value.func.attr in _SAME_OBJECT_METHODS:
        kind = mode_call(value) if value.func.attr in ("train", "eval") else None
        if kind is not None:
            return value if kind == "eval" else None
        value = value.func.value
    return None


_TORCH_CONTAINERS = frozenset({"torch.nn.ModuleList", "torch.nn.ModuleDict", "torch.nn.Sequential"})


def _added_modules(body: Sequence[ast.stmt], target: str) -> list[ast.AST]:
    """The modules ``body`` puts into the container ``target``: ``target.append(m)`` /
    ``insert(i, m)`` / ``add_module(name, m)`` / ``target[k] = m``, each element of ``extend([...])``
    (a comprehension's element; anything else added is returned as is, unknown)."""
    out: list[ast.AST] = []
    stack = list(body)
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(n))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and dotted(n.func.value) == target and n.args:
            attr = n.func.attr
            if attr == "append":
                out.append(n.args[0])
            elif attr in ("insert", "add_module", "register_module") and len(n.args) == 2:
                out.append(n.args[1])
            elif attr == "extend":
                seq = n.args[0]
                out.extend(seq.elts if isinstance(seq, (ast.List, ast.Tuple))
                           else [seq.elt] if isinstance(seq, (ast.ListComp, ast.GeneratorExp)) else [seq])
        elif isinstance(n, ast.Assign):
            out.extend(n.value for t in n.targets if isinstance(t, ast.Subscript) and dotted(t.value) == target)
    return out


def _builds_new_module(value: ast.AST, target: str) -> bool:
    """``Net(...)`` / ``models.ResNet(...).to(device)`` / ``nn.Sequential(...)`` bound to ``target``:
    a class constructed here (capitalised callee), not a wrapper of the same object
    (``DataParallel(net)``) and not a load or copy, whose mode is that of the original."""
    value = same_object_base(value)
    if not isinstance(value, ast.Call):
        return False
    callee = dotted(value.func)
    if not callee or not callee.rsplit(".", 1)[-1][:1].isupper():
        return False
    head = target.split(".")[-1]
    return not any(dotted(n) in (target, head) or (isinstance(n, ast.Attribute) and n.attr == head)
                   for n in astwalk.walk(value) if isinstance(n, (ast.Name, ast.Attribute)))


def _element_variable(target: ast.AST, head: ast.AST) -> tuple[Optional[str], ast.AST]:
    """(element variable, the sequence it runs over) of ``for i, m in enumerate(X)`` (m, X) and
    ``for a, b in zip(X, Y)`` (a, X: the first plain-named element paired with a plain sequence);
    (None, head) for any other loop target."""
    if not (isinstance(target, ast.Tuple) and isinstance(head, ast.Call) and isinstance(head.func, ast.Name)):
        return None, head
    if head.func.id == "enumerate" and len(target.elts) == 2 and isinstance(target.elts[1], ast.Name) \
            and len(head.args) == 1:
        return target.elts[1].id, head.args[0]
    if head.func.id == "zip" and len(target.elts) == len(head.args):
        for elt, seq in zip(target.elts, head.args):
            if isinstance(elt, ast.Name) and isinstance(seq, (ast.Name, ast.Attribute)):
                return elt.id, seq
    return None, head


def _function_reference(expr: ast.AST, module: Module) -> Optional[tuple[ast.Name, int, tuple]]:
    """A function passed as a value: ``f`` (name, 0, ()) or ``functools.partial(f, a, k=v)``
    (name, number of bound positionals, bound keyword names). None for anything else."""
    n_args, keywords = 0, ()
    if isinstance(expr, ast.Call):
        if (module.qualname(expr.func) or "") != "functools.partial" or not expr.args \
                or any(isinstance(a, ast.Starred) for a in expr.args) or any(k.arg is None for k in expr.keywords):
            return None
        n_args, keywords = len(expr.args) - 1, tuple(k.arg for k in expr.keywords)
        expr = expr.args[0]
    return (expr, n_args, keywords) if isinstance(expr, ast.Name) else None


def _optimizes_input_tensors(step: ast.Call, scope: Optional[ast.AST], module: Module) -> bool:
    """``opt = optim.SGD([delta], lr=...)``; ``opt.step()``: an optimizer built in this function over a
    list of plain local tensors (an adversarial perturbation, an image being inverted) updates those
    tensors, not a model's weights, so its step is no training step of any model."""
    receiver = step.func.value if isinstance(step.func, ast.Attribute) else None
    if scope is None or not isinstance(receiver, ast.Name):
        return False
    built = _single_assignment(scope, receiver.id)
    if not (isinstance(built, ast.Call) and built.args and isinstance(built.args[0], (ast.List, ast.Tuple))
            and built.args[0].elts):
        return False
    for e in built.args[0].elts:
        if isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == "self":
            # ``optim.LBFGS([self.temperature])``: a tensor the class makes itself (post-hoc calibration)
            if not _self_tensor(module.enclosing_class(scope), e.attr):
                return False
            continue
        if not isinstance(e, ast.Name):
            return False
        bound = [n.value for n in _own_nodes(scope) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == e.id for t in n.targets)]
        # bound here, and never to anything drawn from a module (``w = model.fc.weight``)
        if not bound or any(isinstance(x, ast.Attribute) and x.attr in ("parameters", "named_parameters", "weight", "bias")
                            for b in bound for x in astwalk.walk(b)):
            return False
    return True


_TENSOR_FACTORIES = frozenset({"Parameter", "tensor", "zeros", "ones", "randn", "rand", "full", "empty",
                               "zeros_like", "ones_like", "full_like"})


def _self_tensor(cls: Optional[ast.ClassDef], attr: str) -> bool:
    """Is ``self.<attr>`` assigned, by the methods of ``cls``, only tensors built from scratch
    (``nn.Parameter(torch.ones(1) * 1.5)``), never a module or a model's parameter?"""
    if cls is None:
        return False
    values = []
    for fn in cls.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for n in _own_nodes(fn):
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == attr and isinstance(t.value, ast.Name)
                                                 and t.value.id == "self" for t in n.targets):
                values.append(n.value)
    return bool(values) and all(isinstance(v, ast.Call) and (dotted(v.func) or "").rsplit(".", 1)[-1] in _TENSOR_FACTORIES
                                for v in values)


def _single_assignment(scope: ast.AST, name: str) -> Optional[ast.AST]:
    """The value of ``name = value`` when that is the only binding of ``name`` in ``scope``'s own body
    (``preview = functools.partial(save_images, ...)``)."""
    stores = values = 0
    value = None
    for n in _own_nodes(scope):
        if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, (ast.Store, ast.Del)):
            stores += 1
        elif isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name) \
                and n.targets[0].id == name:
            values, value = values + 1, n.value
    return value if stores == values == 1 else None


def _own_nodes(scope: ast.AST):
    """The nodes of ``scope``'s body (a function's, a module's or a lambda's), not those of the
    functions, classes and lambdas in it."""
    todo = [scope.body] if isinstance(scope, ast.Lambda) else list(getattr(scope, "body", []))
    while todo:
        n = todo.pop()
        yield n
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(n))


def _add_callers(sites, fns: set[int], mods: set[int], todo: list[int]) -> None:
    """Mark the functions (module bodies at top level) holding ``sites`` as producers; the
    functions new to ``fns`` go on the work list."""
    for c in sites:
        if c.scope is None:
            mods.add(id(c.module))
        elif id(c.scope) not in fns:
            fns.add(id(c.scope))
            todo.append(id(c.scope))


def _bound_at(defs: list[FunctionInfo], call: ast.Call, scope: Optional[FuncNode]) -> list[FunctionInfo]:
    """The one of a module's same-named functions that a call runs, as Python looks the name up
    when the call runs: at module level the last ``def`` above the call (a notebook or script that
    redefines ``evaluate`` further down: the later one has not run yet). In a function body, a
    ``def`` of that function or of one around it (the last one above the call there), else a
    module-level one: the one bound where the module calls the enclosing function when all those
    calls agree (a notebook cell calling it before the redefinition), else the last one (a script's
    ``main()`` runs after every ``def``). The first one when none of this applies."""
    if len(defs) <= 1:
        return defs[:1]
    module = defs[0].module

    def last_above(cands: list[FunctionInfo], at: ast.AST) -> Optional[FunctionInfo]:
        above = [fi for fi in cands if fi.node.lineno < at.lineno]
        return max(above, key=lambda fi: fi.node.lineno) if above else None

    top = [fi for fi in defs if module.scope_of(fi.node) is None]
    if scope is None:
        found = last_above(top, call)
        return [found] if found is not None else defs[:1]
    outer: Optional[ast.AST] = scope
    while outer is not None:
        local = [fi for fi in defs if fi.node is not outer and module.scope_of(fi.node) is outer]
        if local:
            return [last_above(local, call) or max(local, key=lambda fi: fi.node.lineno)]
        if module.scope_of(outer) is None:
            break
        outer = module.scope_of(outer)
    if not top:
        return defs[:1]
    name = getattr(outer, "name", None)
    bound = {id(b.node): b for b in (last_above(top, c.node) for c in module.calls
                                     if c.scope is None and c.name == name and isinstance(c.node.func, ast.Name))
             if b is not None} if outer is not None and module.scope_of(outer) is None else {}
    if len(bound) == 1:
        return list(bound.values())
    if any(module.parent(fi.node) is not module.tree for fi in top):
        return defs[:1]  # a def under ``if`` / ``try``: which one runs is decided at run time
    return [max(top, key=lambda fi: fi.node.lineno)]


def mode_parameter(fn: ast.FunctionDef) -> Optional[str]:
    """The name of ``train``'s mode flag: its first argument after ``self``, called ``mode`` or with
    a ``True``/``False`` default. None for a trainer's ``train(self, loader, epochs)``."""
    args = fn.args.args
    if len(args) < 2:
        return None
    first = args[1]
    defaults = fn.args.defaults
    default = defaults[1 - (len(args) - len(defaults))] if 1 >= len(args) - len(defaults) else None
    if first.arg == "mode" or isinstance(default, ast.Constant) and isinstance(default.value, bool):
        return first.arg
    return None


def hands_on_mode(fn: ast.FunctionDef, mode: Optional[str]) -> bool:
    """Does the override switch the module some way (or may, through a helper)?"""
    for n in astwalk.walk(fn):
        if isinstance(n, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target]
            if any(isinstance(t, ast.Attribute) and t.attr == "training" for tt in targets for t in astwalk.walk(tt)):
                return True  # self.training = mode
        if not isinstance(n, ast.Call):
            continue
        f = n.func
        if isinstance(f, ast.Attribute) and f.attr in ("train", "eval"):
            receiver = f.value
            if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name) and receiver.func.id == "super":
                return True  # super().train(mode) / super(Cls, self).train(mode)
            if n.args and isinstance(n.args[0], ast.Name) and n.args[0].id == "self":
                return True  # nn.Module.train(self, mode) / Base.train(self, mode)
        if any(isinstance(x, ast.Name) and x.id == mode for a in [*n.args, *(k.value for k in n.keywords)] for x in astwalk.walk(a)):
            if not (isinstance(f, ast.Name) and f.id in ("bool", "print", "isinstance")):
                return True  # child.train(mode), self._set_mode(mode), self.apply(partial(fn, mode=mode))
        if dotted(f) in ("setattr", "object.__setattr__") and len(n.args) >= 2 \
                and isinstance(n.args[1], ast.Constant) and n.args[1].value == "training":
            return True
    return False


def train_override_blocks(cls: ast.ClassDef) -> bool:
    """Does the class override ``train(mode)`` without handing the mode on (see ``hands_on_mode``)?
    Then ``train()`` / ``eval()`` of a module holding one stops there: the layers below keep their
    mode (a frozen feature extractor's ``def train(self, mode=True): return self``)."""
    fn = next((f for f in cls.body if isinstance(f, ast.FunctionDef) and f.name == "train"), None)
    if fn is None or len(fn.args.args) < 2 or mode_parameter(fn) is None:
        return False
    return not hands_on_mode(fn, mode_parameter(fn))


@per_node
def _placeholder_method(fn: ast.AST) -> bool:
    """A method that only declares its name for subclasses: ``@abstractmethod``, or a body (after its
    docstring) of ``...``, ``pass`` or ``raise NotImplementedError``."""
    if any((dotted(d) or "").rsplit(".", 1)[-1] == "abstractmethod" for d in fn.decorator_list):  # type: ignore[attr-defined]
        return True
    body = list(fn.body)  # type: ignore[attr-defined]
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
        body = body[1:]
    if len(body) != 1:
        return False
    st = body[0]
    if isinstance(st, ast.Pass) or isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) and st.value.value is Ellipsis:
        return True
    if isinstance(st, ast.Raise) and st.exc is not None:
        exc = st.exc.func if isinstance(st.exc, ast.Call) else st.exc
        return (dotted(exc) or "").rsplit(".", 1)[-1] == "NotImplementedError"
    return False


def _star_imports(module: Module) -> bool:
    """``from helpers import *``: any name may come from another module."""
    return _has_star_import(module.tree)


@per_node
def _has_star_import(tree: ast.AST) -> bool:
    return any(isinstance(st, ast.ImportFrom) and any(a.name == "*" for a in st.names) for st in tree.body)  # type: ignore[attr-defined]


def _constructed_classes(name: str, scope: ast.AST) -> set[str]:
    """Class names ``name`` is assigned from in ``scope`` (``name = ClassName(...)``)."""
    return _constructed_classes_by_name(scope).get(name, set())


@per_node
def _constructed_classes_by_name(scope: ast.AST) -> dict[str, set[str]]:
    """For every name in ``scope``, the class names it is assigned from (one walk per scope, not
    one per method call resolved in it)."""
    out: dict[str, set[str]] = {}
    for st in getattr(scope, "body", []):
        for n in astwalk.walk(st):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
                last = (dotted(n.value.func) or "").rsplit(".", 1)[-1]
                if last[:1].isupper():
                    for t in n.targets:
                        if isinstance(t, ast.Name):
                            out.setdefault(t.id, set()).add(last)
    return out


def _assigned_target(call: ast.Call, module: Module) -> Optional[ast.AST]:
    """``x`` / ``self.x`` in ``x = call(...)``: the one name or attribute the call's result is stored in."""
    parent = module.parent(call)
    if isinstance(parent, ast.Assign) and len(parent.targets) == 1 and isinstance(parent.targets[0], (ast.Name, ast.Attribute)):
        return parent.targets[0]
    return None


def _stored_arguments(init: FunctionInfo, bound: dict[str, tuple[Key, str]]) -> dict[str, tuple[Key, str]]:
    """``self.model = model`` in ``__init__``: "@model" -> what this constructor call passes for ``model``
    (only attributes assigned once there: ``self.model = deepcopy(self.model)`` makes another object)."""
    assigned = [t.attr for n in astwalk.walk(init.node) for t in _binding_targets(n)
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"]
    return {"@" + attr: bound[name] for attr, name in _self_attributes_from_names(init.node)
            if name in bound and assigned.count(attr) == 1}


def _constructed_binding(call: ast.Call, module: Module, arg_key) -> dict[str, tuple[Key, str]]:
    """``net = Net(...)``: the ``self`` of ``Net.__init__`` -> ``net``; ``Wrapper(Net(...))``: the
    unnamed new object (``NEW``), which only the wrapper's constructor call names (``_wrapped_freezes``)."""
    target = _assigned_target(call, module)
    if target is None:
        parent = module.parent(call)
        if isinstance(parent, ast.keyword):
            parent = module.parent(parent)
        return {"self": ((NEW,), NEW)} if isinstance(parent, ast.Call) and parent.func is not call else {}
    key, text = arg_key(target)
    return {"self": (key, text)} if key is not None and text else {}


def _returned_binding(fi: FunctionInfo, call: ast.Call, module: Module, arg_key) -> dict[str, tuple[Key, str]]:
    """``net = load_pretrained()`` where the callee ends with ``return model``: "%model" -> ``net``
    (and ``RETURNED``, the object of a ``return Wrapper(...)``, -> ``net``)."""
    target = _assigned_target(call, module)
    if target is None:
        return {}
    out = {RETURNED: arg_key(target)}
    returned = _returned_names(fi.node)
    if len(returned) != 1:
        return out
    name, bound = next(iter(returned)), arg_key(target)
    return {**out, "%" + name: bound, "%%" + name: bound}  # a module built there and returned: the caller's now


def _narrow_by_import(module: Module, name: str, cands: list[FunctionInfo],
                      project: Optional[Project] = None) -> list[FunctionInfo]:
    """Of the candidates defined under ``name`` in several modules (two scripts' ``Solver``), the
    ones defined in ``module`` itself, else the ones in the module ``name`` is imported from; all of
    them when neither tells."""
    if len(cands) <= 1:
        return cands
    own = [fi for fi in cands if fi.module is module]
    if own:
        return own
    target = module.imports.aliases.get(name, "")
    mod_hint = target.lstrip(".").rsplit(".", 1)[0] if "." in target.lstrip(".") else ""
    if not mod_hint:
        return cands
    source = project.module_named(mod_hint, module) if project is not None else None
    if source is not None and any(fi.module is source for fi in cands):
        # the module Python imports (`vision.ssd.predictor` from the root), not a vendored copy
        # of the package in a subfolder (`paddle/vision/ssd/predictor.py`)
        return [fi for fi in cands if fi.module is source]
    tail = mod_hint.rsplit(".", 1)[-1]
    narrowed = [fi for fi in cands if fi.module.module_name == mod_hint or fi.module.module_name.endswith("." + mod_hint)
                or fi.module.module_name.rsplit(".", 1)[-1] == tail]
    return narrowed or cands


@per_node
def _returned_names(fn: ast.AST) -> frozenset:
    """The names a function returns, also through Module methods that return the module itself
    (``return net.to(device).eval()`` returns ``net``)."""
    returned = (same_object_base(r.value) for r in astwalk.walk(fn) if isinstance(r, ast.Return))
    return frozenset(v.id for v in returned if isinstance(v, ast.Name))


@per_node
def _self_attributes_from_names(init: ast.AST) -> list[tuple[str, str]]:
    """``self.attr = name`` assignments in ``init``, in walk order: (attr, name)."""
    return [(n.targets[0].attr, n.value.id) for n in astwalk.walk(init)
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Attribute)
            and isinstance(n.targets[0].value, ast.Name) and n.targets[0].value.id == "self"
            and isinstance(n.value, ast.Name)]


def _fresh_locals(body: Sequence[ast.stmt], local_names: frozenset) -> frozenset:
    """Local names whose every assignment builds a new module (``matcher = nn.Sequential(...)``)."""
    fresh, other = set(), set()
    for st in body:
        for n in astwalk.walk(st):
            for t in _binding_targets(n):
                for name in (x.id for x in astwalk.walk(t) if isinstance(x, ast.Name)):
                    if name not in local_names:
                        continue
                    if isinstance(n, ast.Assign) and isinstance(t, ast.Name) and (
                            _builds_new_module(n.value, name) or _factory_builds_module(n.value, name)):
                        fresh.add(name)
                    else:
                        other.add(name)
    return frozenset(fresh - other)


# Factory functions that build a new network from settings: ``get_resnet(cfg.arch, classes)``,
# ``build_model(cfg)``, ``torchvision.models.resnet18(weights=...)``.
_FACTORY_NAME = re.compile(r"^(get|build|create|make|new|init)_?[a-z0-9_]*(model|net|network|backbone|encoder|"
                           r"classifier|resnet|densenet|vgg|alexnet)$|^(resnet|resnext|wide_resnet|densenet|vgg|"
                           r"alexnet|mobilenet|efficientnet|regnet|convnext|squeezenet|shufflenet|googlenet|"
                           r"inception)[a-z0-9_]*$", re.I)
_MODEL_WORD = re.compile(r"model|net|encoder|classifier|backbone", re.I)


def _factory_builds_module(value: ast.AST, target: str) -> bool:
    """``ctr_phi = get_resnet(args.arch, classes)``: a factory call, named as one, given settings only
    (no argument names a model: ``get_model(self.net)`` may hand back the caller's network)."""
    value = same_object_base(value)
    if not isinstance(value, ast.Call):
        return False
    callee = (dotted(value.func) or "").rsplit(".", 1)[-1]
    if not callee or not _FACTORY_NAME.match(callee):
        return False
    head = target.split(".")[-1]
    for a in [*value.args, *(k.value for k in value.keywords)]:
        for n in astwalk.walk(a):
            last = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None
            if last is not None and (last == head or (_MODEL_WORD.search(last) and not last.endswith("_name"))):
                return False
    return True


# Argument names that hold settings for a model, not a model: ``model_kwargs``, ``net_cfg``, ``model_name``.
_SETTING_NAME = re.compile(r"_(name|names|kwargs|kw|args|cfg|config|conf|params|type|arch|opts|options|spec|"
                           r"settings|hparams|dim|dims|size|path|dir|file|id)$", re.I)
# Factory-like names whose module is not built by the call: a load, a copy, an evaluation copy.
_NOT_BUILT_NAME = re.compile(r"load|restore|copy|clone|eval|frozen|freeze|cached|current|existing", re.I)


def _settings_only(call: ast.Call, target: str) -> bool:
    """No argument of ``call`` names ``target`` or a model (``wrap(model)``, ``build(cfg, backbone=net)``
    hand back a module that keeps the mode of the one given); settings (``model_kwargs``,
    ``cfg.model_name``) are fine."""
    head = target.split(".")[-1]
    for a in [*call.args, *(k.value for k in call.keywords)]:
        for n in astwalk.walk(a):
            last = n.id if isinstance(n, ast.Name) else n.attr if isinstance(n, ast.Attribute) else None
            if last is not None and (last == head or _MODEL_WORD.search(last) and not _SETTING_NAME.search(last)):
                return False
    return True


def _binding_targets(n: ast.AST) -> list[ast.AST]:
    """The target expressions a statement or expression binds (``a = b = ...``, ``for x in``,
    ``with ... as f``, ``x += 1``, ``(y := ...)``)."""
    if isinstance(n, ast.Assign):
        return n.targets
    if isinstance(n, ast.With):
        return [i.optional_vars for i in n.items if i.optional_vars is not None]
    if isinstance(n, (ast.AnnAssign, ast.AugAssign, ast.For, ast.NamedExpr)):
        return [n.target]
    return []


@per_node
def bindings_by_name(owner: ast.AST) -> dict[str, list[tuple[ast.AST, ast.AST]]]:
    """Name -> the (binding node, target) pairs in ``owner``'s body (nested definitions included)
    whose target mentions the name (``x = ...``, ``x.attr = ...``, ``for i, x in ...``), in walk
    order. One walk per scope: asked once per ``x.train()`` call, a walk each time was quadratic."""
    out: dict[str, list[tuple[ast.AST, ast.AST]]] = {}
    for st in owner.body:
        for n in astwalk.walk(st):
            for t in _binding_targets(n):
                for name in dict.fromkeys(x.id for x in astwalk.walk(t) if isinstance(x, ast.Name)):
                    out.setdefault(name, []).append((n, t))
    return out


def _assigned_names(body: Sequence[ast.stmt]) -> frozenset:
    """Names a function body binds itself (not ``global``/``nonlocal`` ones)."""
    names, declared = set(), set()
    for st in body:
        for n in astwalk.walk(st):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.add(n.id)
            elif isinstance(n, (ast.Global, ast.Nonlocal)):
                declared.update(n.names)
    return frozenset(names - declared)


def _each_listed(ev: Event, bound: dict, fi: FunctionInfo, call: ast.Call, arg_key):
    """A callee's event on each element of its list parameter (``for m in models: m.eval()``): one
    event per module of a list literal the call passes (``set_mode("eval", [gen, enc])``)."""
    if not (ev.key and len(ev.key) == 2 and ev.key[1] == EACH and ev.key[0].startswith("$")):
        yield ev, bound
        return
    param = ev.key[0][1:]
    listed = call_arguments(fi, call)[1].get(param)
    if not isinstance(listed, (ast.List, ast.Tuple)) or not listed.elts:
        yield ev, bound  # the elements are unknown: the event stays on the whole argument
        return
    for elt in listed.elts:
        one_bound = dict(bound)
        one_bound[param] = arg_key(elt)
        yield replace(ev, key=(ev.key[0],), text=param), one_bound


def _may_bind(fi: FunctionInfo, call: ast.Call) -> bool:
    """Can ``call`` bind the parameters of ``fi`` (called through an instance or its class name, as
    ``call_arguments`` reads it)? False when a parameter without default gets no argument or there are
    more positional arguments than parameters (no ``*args``): Python would raise, so the call runs some
    other function (``self.model.train()`` is no ``train(self, shareable, fl_ctx)``). True for calls
    with ``*args`` / ``**kwargs`` and lambdas."""
    if isinstance(fi.node, ast.Lambda) or any(isinstance(a, ast.Starred) for a in call.args) \
            or any(k.arg is None for k in call.keywords):
        return True
    a = fi.node.args
    params = [p.arg for p in a.posonlyargs + a.args]
    n_defaults = len(a.defaults)
    required = params[:len(params) - n_defaults] if n_defaults else params
    if fi.cls is not None and params and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in fi.node.decorator_list):
        params, required = params[1:], required[1:]
    if len(call.args) > len(params) and a.vararg is None:
        return False
    given = {k.arg for k in call.keywords}
    if any(p not in given for p in required[len(call.args):]):
        return False
    return all(k.arg in given for k, d in zip(a.kwonlyargs, a.kw_defaults) if d is None)


def call_arguments(fi: FunctionInfo, call: ast.Call) -> tuple[Optional[str], dict[str, ast.AST]]:
    """(the method's ``self`` parameter, None for a function or static method; parameter -> the
    expression this call passes for it). Positional arguments stop at the first ``*args``; a
    keyword counts only for a named parameter."""
    params = [p.arg for p in fi.node.args.posonlyargs + fi.node.args.args]
    self_name = None
    if fi.cls is not None and params and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in fi.node.decorator_list):
        self_name = params.pop(0)
    passed: dict[str, ast.AST] = {}
    for p, a in zip(params, call.args):
        if isinstance(a, ast.Starred):
            break
        passed[p] = a
    names = set(params) | {p.arg for p in fi.node.args.kwonlyargs}
    for kw in call.keywords:
        if kw.arg in names:
            passed[kw.arg] = kw.value
    return self_name, passed


def guard_of(test: ast.AST) -> tuple[str, bool]:
    """(source of the tested condition, branch polarity): ``not train`` is ``train`` on its false
    branch, so both spellings of one flag compare."""
    pol = True
    while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
        test, pol = test.operand, not pol
    return ast.unparse(test), pol


def _exits(body: Sequence[ast.stmt]) -> bool:
    """Does the block always leave (``return`` / ``raise`` / ``continue`` / ``break`` at its end)?"""
    return bool(body) and isinstance(body[-1], (ast.Return, ast.Raise, ast.Continue, ast.Break))


_UNDECIDED = object()
_GUARD_NAMES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _constant_arguments(fi: FunctionInfo, call: ast.Call) -> dict[str, object]:
    """Parameters of ``fi`` that this call binds to a literal (given, or a literal default left)."""
    a = fi.node.args
    positional = a.posonlyargs + a.args
    out: dict[str, object] = {}
    for p, d in zip(positional[len(positional) - len(a.defaults):], a.defaults):
        if isinstance(d, ast.Constant):
            out[p.arg] = d.value
    for p, d in zip(a.kwonlyargs, a.kw_defaults):
        if isinstance(d, ast.Constant):
            out[p.arg] = d.value
    if any(isinstance(x, ast.Starred) for x in call.args) or any(k.arg is None for k in call.keywords):
        out = {}  # *args / **kwargs may pass anything
    for name, value in call_arguments(fi, call)[1].items():
        if isinstance(value, ast.Constant):
            out[name] = value.value
        else:
            out.pop(name, None)
    return out


def _guard_value(test: str, constants: dict[str, object]) -> object:
    """The value of a callee's ``if`` test given its constant parameters: ``train``,
    ``phase == "train"``, ``mode != 'eval'``, ``x is None``; ``_UNDECIDED`` otherwise."""
    if test in constants:
        return constants[test]
    node = _parsed_test(test)
    if isinstance(node, ast.BoolOp):
        # `max_batches is not None and i == max_batches`: one decided operand may decide it all
        values = [_guard_value(ast.unparse(v), constants) for v in node.values]
        absorbing = isinstance(node.op, ast.Or)  # True decides an `or`, False an `and`
        if any(v is not _UNDECIDED and bool(v) == absorbing for v in values):
            return absorbing
        if all(v is not _UNDECIDED for v in values):
            return not absorbing
        return _UNDECIDED
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.left, ast.Name) \
            and node.left.id in constants and isinstance(node.comparators[0], ast.Constant):
        left, right, op = constants[node.left.id], node.comparators[0].value, node.ops[0]
        if isinstance(op, ast.Eq):
            return left == right
        if isinstance(op, ast.NotEq):
            return left != right
        if isinstance(op, ast.Is):
            return left is right
        if isinstance(op, ast.IsNot):
            return left is not right
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) \
            and isinstance(node.left, ast.Name) and node.left.id in constants \
            and isinstance(node.comparators[0], (ast.Tuple, ast.List, ast.Set)) \
            and all(isinstance(e, ast.Constant) for e in node.comparators[0].elts):
        # `mode in ("train", "training")`
        found = constants[node.left.id] in [e.value for e in node.comparators[0].elts]  # type: ignore[attr-defined]
        return found if isinstance(node.ops[0], ast.In) else not found
    return _UNDECIDED


@functools.lru_cache(maxsize=4096)
def _parsed_test(test: str) -> Optional[ast.AST]:
    """The expression of a guard's source (guards keep the source: they are compared as text);
    parsed once per text, not once per call site of the function that holds it."""
    try:
        return ast.parse(test, mode="eval").body
    except SyntaxError:
        return None


def _forwarded_parameters(fi: FunctionInfo, call: ast.Call, params: set[str], rebound: frozenset) -> dict[str, str]:
    """Parameters of ``fi`` that this call binds to a parameter of the calling function, passed on
    unchanged (``loss_batch(loss, out, y, opt)`` inside ``loss_epoch(model, dl, opt=None)``):
    callee parameter -> caller parameter."""
    if any(isinstance(x, ast.Starred) for x in call.args) or any(k.arg is None for k in call.keywords):
        return {}
    return {name: value.id for name, value in call_arguments(fi, call)[1].items()
            if isinstance(value, ast.Name) and value.id in params and value.id not in rebound}


def _forwarded_test(test: str, forwarded: dict[str, str]) -> Optional[str]:
    """``test`` in the caller's terms when it reads only parameters the call passes on unchanged
    (``opt is not None`` -> the caller's ``opt is not None``, which its own callers may decide)."""
    node = _parsed_test(test) if forwarded else None
    if node is None:
        return None
    names = [n for n in astwalk.walk(node) if isinstance(n, ast.Name)]
    if not names or any(n.id not in forwarded for n in names):
        return None
    node = copy.deepcopy(node)
    for n in astwalk.walk(node):
        if isinstance(n, ast.Name):
            n.id = forwarded[n.id]
    return ast.unparse(node)


def _decide_guards(ev: Event, constants: dict[str, object], call: ast.Call,
                   forwarded: Optional[dict[str, str]] = None) -> Optional[Event]:
    """A callee's event seen from one call: tests on parameters this call makes constant are
    decided (None when the event cannot run from here); tests on parameters it passes on from its
    own caller are rewritten in the caller's terms; the others are tagged with the call, so that
    the same test in another call of the callee is not taken for the same value."""
    if not ev.guards:
        return ev
    kept = []
    for test, pol in ev.guards:
        if "@" not in test:
            value = _guard_value(test, constants) if constants else _UNDECIDED
            if value is not _UNDECIDED:
                if bool(value) != pol:
                    return None
                continue
            outer = _forwarded_test(test, forwarded or {})
            test = outer if outer is not None else f"{test}@{id(call)}"
        kept.append((test, pol))
    return replace(ev, guards=tuple(kept))


def _steps_unpassed_default(fi: FunctionInfo, call: ast.Call, key: Key) -> bool:
    """The optimizer a callee steps is its own parameter (``def pass_epoch(model, loader,
    optimizer=None)``: ``optimizer.step()``) that this call does not pass, whose default is a
    literal (``None``, ``False``) and that the callee never rebinds: ``None.step()`` cannot run, so
    the step never happens through this call (an evaluation pass of a train/eval epoch helper)."""
    if not key or not key[0].startswith("$") or key[0] == "$self":
        return False
    name = key[0][1:]
    if any(isinstance(x, ast.Starred) for x in call.args) or any(k.arg is None for k in call.keywords):
        return False  # *args / **kwargs may pass it
    if name in call_arguments(fi, call)[1]:
        return False
    a = fi.node.args
    positional = a.posonlyargs + a.args
    defaults = dict(zip([p.arg for p in positional[len(positional) - len(a.defaults):]], a.defaults))
    defaults.update((p.arg, d) for p, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None)
    default = defaults.get(name)
    if not isinstance(default, ast.Constant) or default.value not in (None, False):
        return False
    body = fi.node.body
    return name not in _assigned_names(body if isinstance(body, list) else [body])


def _decide_exits(ev: Event, constants: dict[str, object], call: ast.Call) -> Event:
    """A callee's early returns seen from one call: a return under a test this call's arguments make
    false never runs from here (``if max_batches is not None and ...: return`` called without
    ``max_batches``); the others are tagged with the call."""
    kept = []
    for ret, mod, guards, tag in ev.exits:
        if not tag:
            if constants and any(value is not _UNDECIDED and bool(value) != pol
                                 for value, pol in ((_guard_value(test, constants), pol)
                                                    for test, pol in guards if "@" not in test)):
                continue
            tag = str(id(call))
        kept.append((ret, mod, guards, tag))
    return replace(ev, exits=tuple(kept))


def _single_dict_value(arg: ast.AST) -> ast.AST:
    """``fit({"main": net}, ...)``: a dict of one model passed where the callee writes
    ``models["main"].eval()`` (a subscript is read as its container): that model."""
    if isinstance(arg, ast.Dict) and len(arg.values) == 1 and arg.keys[0] is not None:
        return arg.values[0]
    return arg


def _rebase(ev: Event, bound: dict[str, tuple[Key, str]], site, loops: tuple, guards: tuple) -> Optional[Event]:
    key, text = ev.key, ev.text
    attr = text.split(".")[1] if text.startswith("self.") and text.count(".") >= 1 else ""
    if attr and "@" + attr in bound and key and key[0] == attr:
        # an attribute set from a constructor argument: the caller's object
        bkey, btext = bound["@" + attr]
        rest = text.split(".")[2:]
        key = None if bkey is None else bkey + key[1:]
        text = ".".join([btext] + rest) if btext else ""
        return replace(ev, key=key, text=text, sites=site + ev.sites, loops=loops + ev.loops, guards=guards + ev.guards)
    if text.startswith("self.") and bound.get("self", (None, ""))[1]:
        text = bound["self"][1] + text[4:]  # `self.img_enc` seen from the caller: `model.img_enc`
    if key and key[0].startswith("%%") and ev.kind != "step" and bound.get(key[0]) is None:
        return None  # a module the callee builds for itself (a matcher, a probe): not the caller's
    if key and key[0].startswith("%") and ev.kind != "step":
        returned = bound.get(key[0])
        if returned is not None and returned[0] is not None:
            # `net = load_pretrained()` returns the object the callee put in eval mode
            rest = text.split(".")[1:]
            key, text = returned[0] + key[1:], ".".join([returned[1]] + rest)
        else:
            # the callee's own local object: the caller cannot name it (an optimizer keeps its name:
            # it is looked up where it is stepped)
            key, text = None, ""
    if key:
        head = key[0]
        if head.startswith("$"):
            name = head[1:]
            if name in bound:
                bkey, btext = bound[name]
                key = None if bkey is None else bkey + key[1:]
                rest = text.split(".", 1)[1] if "." in text else ""
                text = btext + ("." + rest if rest and btext else "")
            elif name == "self":
                pass
            else:
                key = None  # a parameter the caller did not pass (default): unknown object
                text = ""
    return replace(ev, key=key, text=text, sites=site + ev.sites, loops=loops + ev.loops, guards=guards + ev.guards)


def loop_of_site(module: Module, node: ast.AST) -> list[ast.AST]:
    """Loops enclosing ``node`` inside its function, outermost first."""
    out = []
    for a in module.ancestors(node):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            break
        if isinstance(a, LOOP_TYPES):
            out.append(a)
    return list(reversed(out))


def _aliased_submodule_iterator(module: Module, loop: ast.AST, name: str) -> Optional[ast.AST]:
    """``modules = model.backbone.modules()`` (or ``list(...)``, or ``a.modules() if c else
    b.modules()``, both arms the sub-module walk of one model) bound in the block that holds
    ``for m in modules:``, as its last binding before the loop: the ``.modules()`` call."""
    holder = module.parent(loop)
    block = next((b for b in (getattr(holder, f, None) for f in ("body", "orelse", "finalbody"))
                  if isinstance(b, list) and any(st is loop for st in b)), None)
    if block is None:
        return None
    value = None
    for st in block:
        if st is loop:
            break
        if isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name) \
                and st.targets[0].id == name:
            value = st.value
        elif any(isinstance(t, ast.Name) and t.id == name and isinstance(t.ctx, ast.Store) for t in astwalk.walk(st)):
            value = None  # rebound some other way (a loop target, an augmented assignment)

    def walk_call(v: Optional[ast.AST]) -> Optional[ast.Call]:
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id in ("list", "tuple") \
                and len(v.args) == 1 and not v.keywords:
            v = v.args[0]
        if isinstance(v, ast.Call) and isinstance(v.func, ast.Attribute) and v.func.attr in _SUBMODULE_ITERATORS:
            return v
        return None

    if isinstance(value, ast.IfExp):
        # `model.model.modules() if single_gpu else model.module.model.modules()`: the same model
        # reached with or without its DataParallel wrapper
        body, other = walk_call(value.body), walk_call(value.orelse)
        if body is None or other is None:
            return None
        a, b = dotted(body.func.value), dotted(other.func.value)  # type: ignore[attr-defined]
        if not a or not b or a.split(".")[0] != b.split(".")[0]:
            return None
        return body
    return walk_call(value)


def conflicting(a: tuple[tuple[str, bool], ...], b: tuple[tuple[str, bool], ...]) -> bool:
    """Can two events not run in the same iteration (one under ``if C``, the other under ``not C``)?
    A test that holds implies each operand of its ``and`` (``if n == k and phase == "train":``
    contradicts ``else`` of ``if phase == "train":``); one that fails, each operand of its ``or``."""
    implied_a, implied_b = _implied_guards(a), _implied_guards(b)
    pol = dict(implied_a)
    if any(t in pol and pol[t] != p for t, p in implied_b):
        return True
    return _exclusive_values(implied_a, implied_b)


def _exclusive_values(a: tuple[tuple[str, bool], ...], b: tuple[tuple[str, bool], ...]) -> bool:
    """``phase == "source_train"`` holding in one, ``phase == "target_val"`` (or ``phase in ("val",
    "test")``, or ``phase != "source_train"`` failing) in the other: one expression cannot equal two
    different constants in the same pass."""
    held = _held_values(a)
    if not held:
        return False
    return any(k in held and not (held[k] & vals) for k, vals in _held_values(b).items())


def _held_values(guards: tuple[tuple[str, bool], ...]) -> dict[str, frozenset]:
    out: dict[str, frozenset] = {}
    for test, pol in guards:
        got = _equality_values(test) if pol else None
        if got is not None:
            key, vals = got
            out[key] = out[key] & vals if key in out else vals
    return out


@functools.lru_cache(maxsize=4096)
def _equality_values(test: str) -> Optional[tuple[str, frozenset]]:
    """(tested expression, the constants it equals) for a holding ``x == c`` / ``c == x`` /
    ``x in (c1, c2)``; a test tagged with its call (``phase == "val"@123``) keeps the tag on the
    expression, so that only tests seen through the same call compare."""
    if "==" not in test and " in " not in test:
        return None
    tag = ""
    head, sep, tail = test.rpartition("@")
    if sep and tail.isdigit():
        test, tag = head, sep + tail
    node = _parsed_test(test)
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    left, right, op = node.left, node.comparators[0], node.ops[0]
    try:
        if isinstance(op, ast.Eq):
            if isinstance(left, ast.Constant) and not isinstance(right, ast.Constant):
                left, right = right, left
            if isinstance(right, ast.Constant) and not isinstance(left, ast.Constant):
                return ast.unparse(left) + tag, frozenset([right.value])
        elif isinstance(op, ast.In) and isinstance(right, (ast.Tuple, ast.List, ast.Set)) and right.elts \
                and all(isinstance(e, ast.Constant) for e in right.elts) and not isinstance(left, ast.Constant):
            return ast.unparse(left) + tag, frozenset(e.value for e in right.elts)  # type: ignore[attr-defined]
    except TypeError:  # an unhashable constant
        return None
    return None


def _implied_guards(guards: tuple[tuple[str, bool], ...]) -> tuple[tuple[str, bool], ...]:
    out = list(guards)
    for test, pol in guards:
        if " and " in test or " or " in test:
            out += _conjuncts(test, pol)
    for test, pol in list(out):
        if "!=" in test:
            out += _negated_comparison(test, pol)
    return tuple(out)


@functools.lru_cache(maxsize=4096)
def _negated_comparison(test: str, pol: bool) -> tuple[tuple[str, bool], ...]:
    """``stage != "train"`` holding is ``stage == "train"`` failing."""
    node = _parsed_test(test)
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.NotEq):
        return ((ast.unparse(ast.Compare(node.left, [ast.Eq()], node.comparators)), not pol),)
    return ()


@functools.lru_cache(maxsize=4096)
def _conjuncts(test: str, pol: bool) -> tuple[tuple[str, bool], ...]:
    """The operand tests a guard's truth value decides: each operand of a holding ``and`` holds,
    each operand of a failing ``or`` fails (recursively, ``not`` flipping the polarity)."""
    node = _parsed_test(test)
    if not isinstance(node, ast.BoolOp) or isinstance(node.op, ast.And) != pol:
        return ()
    out: list[tuple[str, bool]] = []
    for v in node.values:
        t, p = guard_of(v)
        p = p if pol else not p
        out.append((t, p))
        out += _conjuncts(t, p)
    return tuple(out)


def _names_own_module(module: Module, name: str) -> bool:
    """Is ``name`` bound at module level to the module itself (``d2l = sys.modules[__name__]``, the
    way a library file generated from a book refers to its own functions)?"""
    for st in module.tree.body:
        if isinstance(st, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in st.targets):
            v = st.value
            if isinstance(v, ast.Subscript) and dotted(v.value) == "sys.modules" \
                    and isinstance(v.slice, ast.Name) and v.slice.id == "__name__":
                return True
    return False
