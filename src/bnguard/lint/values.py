"""Value resolution: which Python constants an expression can evaluate to.

``possible_values(expr, module, project)`` answers with a frozenset of constants (``True``,
``False``, ``None``, numbers, strings) and *markers* for values decided at run time
(:class:`Placeholder` for ``tf.placeholder``/``tf.placeholder_with_default``, :data:`RUNTIME` for
anything derived from them), or :data:`UNKNOWN` when the analysis cannot tell. Rules must stay
silent on ``UNKNOWN``.

What is followed:

- literals, ``not``, ``and``/``or``, ``x if c else y``, ``==``/``!=``/``is``/``is not``;
- names bound in the module or an enclosing function (every binding counts: the answer is the
  union, which is never narrower than what the program can do);
- module constants imported from another module of the project;
- ``tf.constant(x)``, ``tf.convert_to_tensor(x)``, ``tf.cast(x, ...)``, ``tf.identity(x)``;
- function parameters: the default where a call omits the argument, and the argument passed at
  **every call site in the project** (positional and keyword, ``functools.partial``, methods
  called as ``self.f``/``obj.f``, ``__init__`` through the class name). A function referenced
  without being called (a callback, ``tf.make_template``, ``model_fn=``), decorated by something
  that can inject arguments (``add_arg_scope``), or never called in the project is called by code
  we do not see: its parameters are ``UNKNOWN``;
- attributes (``self.is_training``, ``config.is_training``): the union of every ``x.attr = ...``
  store and class-body ``attr = ...`` in the project; ``UNKNOWN`` when nothing stores it, except
- command-line options (``args.phase``, ``FLAGS.mode``) of a parsed-arguments object, when the
  values the command line can produce form a closed set (argparse ``choices`` + default,
  ``store_true``; absl ``DEFINE_enum``/``DEFINE_bool``); see ``command_line_options``.

Everything is indexed once per project (``project.fact``) and memoised, so resolving all flags of
a project is linear in its size.
"""
from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Optional, Union

from bnguard.lint import astwalk
from bnguard.lint.imports import dotted
from bnguard.lint.project import FunctionInfo, Module, Project


class _Unknown:
    _inst = None

    def __new__(cls):
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:  # an UNKNOWN must never pass for a definite answer
        return False


UNKNOWN = _Unknown()


class _Runtime:
    """Marker: a value computed at run time from a fed tensor (``not is_training``)."""

    def __repr__(self) -> str:
        return "RUNTIME"


RUNTIME = _Runtime()


@dataclass(eq=False)
class Placeholder:
    """A ``tf.placeholder`` (``default is None``) or ``tf.placeholder_with_default`` call.

    ``default`` is the possible values of the default (a frozenset or UNKNOWN); ``names`` the
    variable/attribute names it is bound to (``is_training``, ``self.is_training`` ->
    ``is_training``) and its ``name=`` tensor name, used to recognise feeds elsewhere.
    """

    node: ast.Call
    module: Module
    default: object = None
    names: frozenset = frozenset()
    tensor_name: Optional[str] = None

    @property
    def has_default(self) -> bool:
        return self.default is not None

    def __repr__(self) -> str:
        kind = "placeholder_with_default" if self.has_default else "placeholder"
        return f"<{kind} {sorted(self.names)} at {self.module.path}:{self.node.lineno}>"


Values = Union[frozenset, _Unknown]
MARKERS = (Placeholder, _Runtime)

# Callees that pass their first argument's value through unchanged (as far as truth goes).
_PASSTHROUGH = {
    "tensorflow.constant", "tensorflow.convert_to_tensor", "tensorflow.identity", "tensorflow.cast",
    "tensorflow.stop_gradient", "tensorflow.keras.backend.constant", "bool",
}
_NEGATE = {"tensorflow.logical_not", "tensorflow.math.logical_not"}
_PLACEHOLDER = {"tensorflow.placeholder", "tensorflow.keras.backend.placeholder"}
_PLACEHOLDER_WITH_DEFAULT = {"tensorflow.placeholder_with_default"}
# Named constants of well-known APIs.
_API_CONSTANTS = {
    "tensorflow.estimator.ModeKeys.TRAIN": "train",
    "tensorflow.estimator.ModeKeys.EVAL": "eval",
    "tensorflow.estimator.ModeKeys.PREDICT": "infer",
}
# Decorators that do not change how a function's arguments arrive.
_TRANSPARENT_DECORATORS = {
    "staticmethod", "classmethod", "property", "abstractmethod", "abc.abstractmethod",
    "tensorflow.function", "functools.lru_cache", "functools.cache", "functools.wraps",
}
_MAX_DEPTH = 60
_MAX_PRODUCT = 64


def _is_marker(v) -> bool:
    return isinstance(v, MARKERS)


# --------------------------------------------------------------------------------------------------
# Per-scope bindings
# --------------------------------------------------------------------------------------------------
@dataclass
class _Binding:
    kind: str  # "expr" | "param" | "import" | "opaque" | "kwargs" | "global" (an ``expr`` read in ``func``'s scope)
    expr: Optional[ast.AST] = None
    func: Optional[ast.AST] = None  # for params: the function node
    module: Optional[Module] = None  # for "store": the module the value expression sits in


def _target_names(target: ast.AST):
    for n in astwalk.walk(target):
        if isinstance(n, ast.Name):
            yield n.id
        elif isinstance(n, (ast.MatchAs, ast.MatchStar)) and n.name:
            yield n.name


def _own_scope_nodes(owner: ast.AST):
    """The nodes of ``owner``'s own scope (nested functions, classes and lambdas excluded)."""
    stack = list(ast.iter_child_nodes(owner))
    while stack:
        n = stack.pop()
        yield n
        if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(n))


class _ScopeBindings:
    """name -> bindings for one scope (a function body or the module body), nested scopes excluded."""

    def __init__(self, body_owner: ast.AST, rebinds: bool = True):
        # ``rebinds``: the file may hold ``global``/``nonlocal`` statements (False skips their walks)
        self.names: dict[str, list[_Binding]] = defaultdict(list)
        self.global_names: set[str] = set()
        if isinstance(body_owner, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            a = body_owner.args
            for arg in a.posonlyargs + a.args + a.kwonlyargs:
                self.names[arg.arg].append(_Binding("param", func=body_owner))
            if a.vararg is not None:
                self.names[a.vararg.arg].append(_Binding("opaque"))
            if a.kwarg is not None:  # ``**kwargs``: a dict of the keywords the callers pass
                self.names[a.kwarg.arg].append(_Binding("kwargs", func=body_owner))
            body = body_owner.body if isinstance(body_owner.body, list) else []
        else:
            body = getattr(body_owner, "body", [])
        stack = list(reversed(body))
        while stack:
            node = stack.pop()
            self._visit(node)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
                                 ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
                continue  # nested scope: its own bindings
            stack.extend(reversed(list(ast.iter_child_nodes(node))))
        # a name declared ``global`` / ``nonlocal`` here is bound in another scope: hand its bindings there
        self.rebound_elsewhere: dict[str, list[_Binding]] = {}
        for g in self.global_names:
            self.rebound_elsewhere[g] = self.names.pop(g, [])
        if not rebinds:
            pass
        elif isinstance(body_owner, ast.Module):
            self._add_global_statement_bindings(body_owner)
        elif isinstance(body_owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
            self._add_nonlocal_statement_bindings(body_owner)

    def _add_global_statement_bindings(self, tree: ast.Module) -> None:
        """``def main(): global TRAINING; TRAINING = not args.eval_only``: every binding of a module
        name counts, those made in a function (or class body) through a ``global`` statement as well;
        a value is then read in that function's scope (kind "global": its ``func`` is that scope)."""
        owners: dict[int, ast.AST] = {}
        stack: list[tuple[ast.AST, Optional[ast.AST]]] = [(n, None) for n in tree.body]
        while stack:
            node, owner = stack.pop()
            if isinstance(node, ast.Global) and owner is not None:
                owners.setdefault(id(owner), owner)
            inner = node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)) \
                else owner
            stack.extend((c, inner) for c in ast.iter_child_nodes(node))
        for owner in owners.values():
            declared = {g for n in _own_scope_nodes(owner) if isinstance(n, ast.Global) for g in n.names}
            inner_sb = _ScopeBindings(owner)
            for name in declared:
                for b in inner_sb.rebound_elsewhere.get(name, []):
                    if b.kind == "expr" and isinstance(owner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        self.names[name].append(_Binding("global", expr=b.expr, func=owner))
                    else:
                        self.names[name].append(_Binding("opaque"))

    def _add_nonlocal_statement_bindings(self, fn: ast.AST) -> None:
        """``nonlocal best`` in a function nested in this one: its bindings of ``best`` are bindings of
        this scope's variable too (read in the nested function's scope)."""
        for inner in astwalk.walk(fn):
            if inner is fn or not isinstance(inner, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            declared = {g for n in _own_scope_nodes(inner) if isinstance(n, ast.Nonlocal) for g in n.names}
            declared &= set(self.names)
            if not declared:
                continue
            inner_sb = _ScopeBindings(inner)
            for name in declared:
                for b in inner_sb.rebound_elsewhere.get(name, []):
                    self.names[name].append(_Binding("global", expr=b.expr, func=inner) if b.kind == "expr"
                                            else _Binding("opaque"))

    def _add_target(self, target: ast.AST, value: Optional[ast.AST]) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id].append(_Binding("expr", expr=value) if value is not None else _Binding("opaque"))
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            if (isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(elts)
                    and not any(isinstance(e, ast.Starred) for e in elts + value.elts)):
                for t, v in zip(elts, value.elts):
                    self._add_target(t, v)
            else:
                for name in _target_names(target):
                    self.names[name].append(_Binding("opaque"))
        elif isinstance(target, ast.Starred):
            self._add_target(target.value, None)
        # Attribute / Subscript targets bind no name.

    def _visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.Assign):
            for t in node.targets:
                self._add_target(t, node.value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._add_target(node.target, node.value)
        elif isinstance(node, ast.AugAssign):
            self._add_target(node.target, None)
        elif isinstance(node, ast.NamedExpr):
            self._add_target(node.target, node.value)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._add_target(node.target, None)
        elif isinstance(node, ast.withitem):
            if node.optional_vars is not None:
                self._add_target(node.optional_vars, None)
        elif isinstance(node, ast.ExceptHandler):
            if node.name:
                self.names[node.name].append(_Binding("opaque"))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for a in node.names:
                name = a.asname or a.name.split(".")[0]
                if name != "*":
                    self.names[name].append(_Binding("import"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.names[node.name].append(_Binding("opaque"))
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            self.global_names.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            self.names[node.name].append(_Binding("opaque"))
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            # comprehension variables live in their own scope; a lookup from inside the
            # comprehension lands here, so make it UNKNOWN rather than find an outer binding
            for gen in node.generators:
                self._add_target(gen.target, None)


# --------------------------------------------------------------------------------------------------
# Project-wide indexes
# --------------------------------------------------------------------------------------------------
@dataclass
class FeedIndex:
    """Everything in the project that could feed a placeholder (``feed_dict`` keys and the like)."""

    key_names: set = field(default_factory=set)  # last name of Name/Attribute keys
    key_strings: set = field(default_factory=set)  # tensor-name keys ("is_training:0" -> "is_training")
    key_exprs: list = field(default_factory=list)  # (expr, module) of non-literal keys
    listed_names: set = field(default_factory=set)  # names put in list/tuple literals
    opaque: bool = False  # a feed dict built by a comprehension or dict(zip(...))


def _last_name(node: ast.AST) -> Optional[str]:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@dataclass
class FeedEntry:
    """One (key, value) pair that may feed a placeholder: a dict display entry, ``d[k] = v``,
    ``d.setdefault(k, v)`` / ``d.__setitem__(k, v)``."""

    key: ast.AST
    value: Optional[ast.AST]  # the expression written (None: ``d.setdefault(k)``)
    module: Module
    origin: str  # "dict" | "item" (``d[k] = v``) | "item+" (augmented / annotated) | "setdefault"


@dataclass
class FeedSources:
    """Everything in the project that may build a feed dict, collected in one walk; the feed
    index below and the TF1 fed-value resolver (``tf1_facts.fed_values``) both read it."""

    entries: list = field(default_factory=list)  # FeedEntry, in module order
    keyword_keys: set = field(default_factory=set)  # ``dict(k=...)`` / ``.update(k=...)``: plain strings
    listed_by_module: dict = field(default_factory=dict)  # id(module) -> names put in list/tuple/set displays
    # id(module) -> why a feed dict there may hold keys no display shows: "comprehension",
    # "dict_call" (``dict(zip(...))``), "dict_of_display" (``dict({...})``), "update_call"
    opaque_by_module: dict = field(default_factory=dict)


def feed_sources(project: Project) -> FeedSources:
    return project.fact("values.feed_sources", _collect_feed_sources)


def _collect_feed_sources(project: Project) -> FeedSources:
    out = FeedSources()
    for m in project.modules:
        kinds = m.nodes_of_kind
        opaque = out.opaque_by_module.setdefault(id(m), set())
        for node in kinds.get(ast.Dict, ()):
            for k, v in zip(node.keys, node.values):
                if k is not None:
                    out.entries.append(FeedEntry(k, v, m, "dict"))
        for kind in (ast.Assign, ast.AugAssign, ast.AnnAssign):
            for node in kinds.get(kind, ()):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Subscript):
                        out.entries.append(FeedEntry(t.slice, node.value, m, "item" if kind is ast.Assign else "item+"))
        if kinds.get(ast.DictComp):
            opaque.add("comprehension")
        listed = out.listed_by_module[id(m)] = set()
        for kind in (ast.List, ast.Tuple, ast.Set):
            for node in kinds.get(kind, ()):
                for e in node.elts:
                    n = _last_name(e)
                    if n:
                        listed.add(n)
        for c in m.calls:
            node = c.node
            f = node.func
            if (isinstance(f, ast.Name) and f.id == "dict") or (isinstance(f, ast.Attribute) and f.attr == "update"):
                out.keyword_keys.update(kw.arg for kw in node.keywords if kw.arg)
                if node.args:
                    if not isinstance(node.args[0], ast.Dict):
                        opaque.add("dict_call" if isinstance(f, ast.Name) else "update_call")
                    elif isinstance(f, ast.Name):
                        opaque.add("dict_of_display")
            elif isinstance(f, ast.Attribute) and f.attr in ("setdefault", "__setitem__") and node.args:
                out.entries.append(FeedEntry(node.args[0], node.args[1] if len(node.args) > 1 else None, m, "setdefault"))
    return out


def _build_feed_index(project: Project) -> FeedIndex:
    idx = FeedIndex()
    sources = feed_sources(project)
    for e in sources.entries:
        # ``{is_training: False}``: feeds the value the flag has anyway, so it feeds nothing
        if e.origin != "setdefault" and isinstance(e.value, ast.Constant) and e.value.value is False:
            continue
        k = e.key
        if isinstance(k, ast.Constant) and isinstance(k.value, str):
            idx.key_strings.add(k.value.split(":")[0].rsplit("/", 1)[-1])
            continue
        n = _last_name(k)
        if n:
            idx.key_names.add(n)
        idx.key_exprs.append((k, e.module))
    idx.key_strings |= sources.keyword_keys
    for names in sources.listed_by_module.values():
        idx.listed_names |= names
    idx.opaque = any(sources.opaque_by_module.values())
    return idx


def _build_attr_stores(project: Project) -> dict[str, list[tuple[Optional[ast.AST], Module]]]:
    """attr name -> every ``x.attr = value`` and class-body ``attr = value`` (value None: opaque)."""
    stores: dict[str, list[tuple[Optional[ast.AST], Module]]] = defaultdict(list)
    for m in project.modules:
        for kind in (ast.Assign, ast.AnnAssign, ast.AugAssign):
            for node in m.nodes_of_kind.get(kind, ()):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                value = None if isinstance(node, ast.AugAssign) else node.value
                for t in targets:
                    if isinstance(t, ast.Attribute):
                        stores[t.attr].append((value, m))
                    elif isinstance(t, (ast.Tuple, ast.List)):
                        for e in astwalk.walk(t):
                            if isinstance(e, ast.Attribute) and isinstance(e.ctx, ast.Store):
                                stores[e.attr].append((None, m))
        for node in m.classes:
            for stmt in node.body:
                if isinstance(stmt, ast.Assign):
                    for t in stmt.targets:
                        if isinstance(t, ast.Name):
                            stores[t.id].append((stmt.value, m))
                elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
                    stores[stmt.target.id].append((stmt.value, m))
        for c in m.calls:
            node = c.node
            if isinstance(node.func, ast.Name) and node.func.id == "setattr":
                if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
                    stores[node.args[1].value].append((None, m))
    return stores


# Class decorators / bases that generate an ``__init__`` taking the class-body fields
# (``@dataclass``, attrs, NamedTuple, pydantic): a constructor call sets the fields it passes.
_FIELD_INIT_DECORATORS = {"dataclass", "dataclasses.dataclass", "attr.s", "attrs", "attr.attrs", "define",
                          "attr.define", "attrs.define", "frozen", "attrs.frozen", "mutable", "attrs.mutable"}
_FIELD_INIT_BASES = {"NamedTuple", "BaseModel", "BaseSettings", "Struct"}


def _field_init_classes(project: Project) -> list[tuple[ast.ClassDef, Module, list[str]]]:
    """Classes whose generated ``__init__`` takes their class-body fields, with the fields in order."""
    out = []
    for m in project.modules:
        for cls in m.classes:
            decorators = {dotted(d.func if isinstance(d, ast.Call) else d) or "" for d in cls.decorator_list}
            bases = {(dotted(b) or "").rsplit(".", 1)[-1] for b in cls.bases}
            if not (decorators & _FIELD_INIT_DECORATORS or bases & _FIELD_INIT_BASES):
                continue
            if any(isinstance(st, ast.FunctionDef) and st.name == "__init__" for st in cls.body):
                continue  # its own __init__: its ``self.x = ...`` stores say what it sets
            fields = [st.target.id for st in cls.body if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name)]
            if fields:
                out.append((cls, m, fields))
    return out


def _generated_init_stores(project: Project) -> dict[str, list[tuple[Optional[ast.AST], Module]]]:
    """The values a generated ``__init__`` stores: ``TrainingArguments(do_train=True)`` stores True
    in ``do_train`` (keyword or position); a ``**kwargs`` / ``*args`` call, or the class handed to
    other code (``HfArgumentParser(TrainingArguments)``, ``cls(**d)`` in a classmethod) stores
    anything in every field. ``dataclasses.replace(x, field=v)`` stores ``v``."""
    stores: dict[str, list[tuple[Optional[ast.AST], Module]]] = defaultdict(list)
    classes = _field_init_classes(project)
    if not classes:
        return stores
    field_names = {f for _cls, _m, fields in classes for f in fields}
    class_names = {cls.name for cls, _m, _f in classes}
    constructions: dict[str, list[tuple[ast.Call, Module]]] = defaultdict(list)
    # Uses of the classes other than calls, gathered in one pass (not one pass per class).
    references: dict[str, list[tuple[ast.AST, Module]]] = defaultdict(list)
    for m in project.modules:
        for name in class_names.intersection(m.references):
            references[name].extend((ref, m) for ref in m.references[name])
        for c in m.calls:
            if c.name != "replace" and c.name not in class_names:
                continue  # the cheap test first: most calls name neither
            last = (dotted(c.node.func) or "").rsplit(".", 1)[-1]
            if last == "replace":
                for kw in c.node.keywords:
                    if kw.arg in field_names:
                        stores[kw.arg].append((kw.value, m))
            elif last in class_names:
                constructions[last].append((c.node, m))
    for cls, cm, fields in classes:
        for call, m in constructions.get(cls.name, ()):
            if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
                for f in fields:
                    stores[f].append((None, m))
                continue
            for kw in call.keywords:
                if kw.arg in fields:
                    stores[kw.arg].append((kw.value, m))
            for f, a in zip(fields, call.args):
                stores[f].append((a, m))
        for ref, m in references.get(cls.name, ()):  # uses other than a call
            parent = m.parent(ref)
            if isinstance(parent, ast.ClassDef) or _annotation(ref, m):
                continue  # ``class Sub(Args)`` (its own fields are class-body stores), ``args: Args``
            if isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name) \
                    and parent.func.id in ("isinstance", "issubclass", "type"):
                continue
            for f in fields:  # handed to other code, which may build it with anything
                stores[f].append((None, m))
        if any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "cls" for n in astwalk.walk(cls)):
            for f in fields:  # a classmethod constructor ``cls(**config)``
                stores[f].append((None, cm))
    return stores


def _annotation(ref: ast.AST, m: Module) -> bool:
    """Is ``ref`` (part of) a type annotation?"""
    node, parent = ref, m.parent(ref)
    while isinstance(parent, (ast.Subscript, ast.Tuple, ast.BinOp, ast.Attribute)):
        node, parent = parent, m.parent(parent)
    if isinstance(parent, ast.arg):
        return parent.annotation is node
    if isinstance(parent, ast.AnnAssign):
        return parent.annotation is node
    if isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return parent.returns is node
    return False


class _Resolver:
    def __init__(self, project: Project):
        self.project = project
        self._scopes: dict[int, _ScopeBindings] = {}
        self._cache: dict[int, Values] = {}
        self._param_cache: dict[tuple[int, str], Values] = {}
        self._active: set = set()
        self._cycles = 0
        self._depth = 0
        self._attr_stores = None
        self._init_stores = None
        self._feeds = None
        self._references = None
        self._func_by_node: dict[int, FunctionInfo] = {}
        self._written: dict[tuple[int, str], object] = {}  # (module id, name): keys written through it
        self._call_displays: dict[int, Optional[ast.Dict]] = {}  # id(dict(...) call) -> its display
        self._module_stores: Optional[dict[tuple[int, str], list[_Binding]]] = None
        self._module_by_tree: dict[int, Module] = {id(m.tree): m for m in project.modules}
        for m in project.modules:
            for f in m.functions:
                self._func_by_node[id(f.node)] = f

    # --- indexes ------------------------------------------------------------------------------
    def scope(self, owner: ast.AST) -> _ScopeBindings:
        sb = self._scopes.get(id(owner))
        if sb is None:
            sb = self._scopes[id(owner)] = _ScopeBindings(owner, self._may_rebind(owner))
        return sb

    def _may_rebind(self, owner: ast.AST) -> bool:
        """Can ``owner``'s file hold the ``global`` (module scope) or ``nonlocal`` (function scope)
        statements ``_ScopeBindings`` looks for? A text test that spares most files two tree walks."""
        if isinstance(owner, ast.Module):
            m = self._module_by_tree.get(id(owner))
            return m is None or m.mentions("global")
        info = self._func_by_node.get(id(owner))
        return info is None or info.module.mentions("nonlocal")

    @property
    def attr_stores(self):
        if self._attr_stores is None:
            self._attr_stores = _build_attr_stores(self.project)
        return self._attr_stores

    def program_attr_stores(self, attr: str, m: Module) -> list[tuple[Optional[ast.AST], Module]]:
        """The stores of ``attr`` in the program of ``m``: another script's ``hp.bn_momentum = 0.1``
        (a dataclass field of its own) sets nothing on this script's ``args``."""
        found = self.attr_stores.get(attr)
        if not found:
            return []
        component = self.project.import_component(m)
        return [(v, sm) for v, sm in found if id(sm) in component]

    def init_stores(self, attr: str, m: Module) -> list[tuple[Optional[ast.AST], Module]]:
        """The stores of ``attr`` by generated ``__init__`` calls (dataclass constructions) in the
        program of ``m`` (another script's ``Args(flag=True)`` builds another script's object)."""
        if self._init_stores is None:
            self._init_stores = _generated_init_stores(self.project)
        found = self._init_stores.get(attr)
        if not found:
            return []
        component = self.project.import_component(m)
        return [(v, sm) for v, sm in found if id(sm) in component]

    @property
    def references(self) -> dict[str, list[tuple[ast.AST, Module]]]:
        if self._references is None:
            refs: dict[str, list[tuple[ast.AST, Module]]] = defaultdict(list)
            for mod in self.project.modules:
                for name, nodes in mod.references.items():
                    refs[name].extend((n, mod) for n in nodes)
            self._references = refs
        return self._references

    @property
    def feeds(self) -> FeedIndex:
        if self._feeds is None:
            self._feeds = _build_feed_index(self.project)
        return self._feeds

    def module_stores(self, target: Module, name: str) -> list[_Binding]:
        """``settings.TRAIN_MODE = True`` in a module whose ``settings`` imports the project module
        ``target``: a binding of ``target``'s module variable as well (kind "store", the value read
        in the module that stores it)."""
        if self._module_stores is None:
            index: dict[tuple[int, str], list[_Binding]] = defaultdict(list)
            for m in self.project.modules:
                for kind in (ast.Assign, ast.AnnAssign, ast.AugAssign):
                    for node in m.nodes_of_kind.get(kind, ()):
                        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                        value = None if isinstance(node, ast.AugAssign) else node.value
                        for t in targets:
                            for a in astwalk.walk(t):
                                if not (isinstance(a, ast.Attribute) and isinstance(a.ctx, ast.Store)
                                        and isinstance(a.value, ast.Name) and a.value.id in m.imports.aliases):
                                    continue
                                resolved = m.imports.resolve(a.value)
                                other = self.project.module_named(resolved, m) if resolved else None
                                if other is None:
                                    continue
                                whole = a is t and value is not None
                                index[(id(other), a.attr)].append(
                                    _Binding("store", expr=value, module=m) if whole else _Binding("opaque"))
            self._module_stores = index
        return self._module_stores.get((id(target), name), [])

    # --- entry --------------------------------------------------------------------------------
    def values(self, expr: Optional[ast.AST], module: Module, scope: object = "auto") -> Values:
        if expr is None:
            return UNKNOWN
        if scope == "auto":
            scope = module.scope_of(expr)
        key = id(expr)
        if key in self._cache:
            return self._cache[key]
        if key in self._active:
            self._cycles += 1
            return frozenset()  # a cycle adds nothing new to the union
        if self._depth > _MAX_DEPTH:
            return UNKNOWN
        self._active.add(key)
        self._depth += 1
        before = self._cycles
        try:
            out = self._eval(expr, module, scope)
        except RecursionError:
            out = UNKNOWN
        finally:
            self._active.discard(key)
            self._depth -= 1
        if self._cycles == before:
            self._cache[key] = out
        return out

    # --- evaluation ---------------------------------------------------------------------------
    def _eval(self, e: ast.AST, m: Module, scope) -> Values:
        if isinstance(e, ast.Constant):
            try:
                hash(e.value)
            except TypeError:
                return UNKNOWN
            return frozenset([e.value])
        if isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            return self._map(self.values(e.operand, m, scope), lambda v: not v)
        if isinstance(e, ast.IfExp):
            test = self.values(e.test, m, scope)
            if _all(test, lambda v: bool(v)):
                return self.values(e.body, m, scope)
            if _all(test, lambda v: not v):
                return self.values(e.orelse, m, scope)
            return _union(self.values(e.body, m, scope), self.values(e.orelse, m, scope))
        if isinstance(e, ast.BoolOp):
            return self._boolop(e, m, scope)
        if isinstance(e, ast.Compare) and len(e.ops) == 1:
            return self._compare(e, m, scope)
        if isinstance(e, ast.Name):
            return self._name(e.id, m, scope)
        if isinstance(e, ast.Attribute):
            return self._attribute(e, m, scope)
        if isinstance(e, ast.Call):
            return self._call(e, m, scope)
        if isinstance(e, ast.NamedExpr):
            return self.values(e.value, m, scope)
        if isinstance(e, ast.Subscript):
            return self._subscript(e, m, scope)
        return UNKNOWN

    def _subscript(self, e: ast.Subscript, m: Module, scope) -> Values:
        """``config["freeze_bn"]`` where ``config`` can only be dict displays of the project (a
        constant, or a parameter that every call site passes one): the values stored under that
        key. UNKNOWN when a display lacks the key or has computed keys, or when a name on the way
        is written through under that key (``CONFIG["k"] = ...``, ``config.update(...)``)."""
        key = e.slice
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)) or not isinstance(e.ctx, ast.Load):
            return UNKNOWN
        displays = self._dict_displays(e.value, m, scope, 0, key.value)
        if not displays:
            return UNKNOWN
        out: Values = frozenset()
        for d, dm in displays:
            stored = self._display_entry(d, dm, key.value, 0)
            if not stored:
                return UNKNOWN  # a computed key or a ``**`` entry may hold it, or it is missing (KeyError)
            for value, vm in stored:
                out = _union(out, self.values(value, vm))
                if out is UNKNOWN:
                    return UNKNOWN
        return out

    def key_sources(self, e: ast.AST, m: Module, key: str) -> Optional[list]:
        """The (expression, module) pairs stored under ``key`` in the dicts ``e`` can be; [] when
        none of them holds the key; None when unknown."""
        displays = self._dict_displays(e, m, m.scope_of(e), 0, key)
        if not displays:
            return None
        out: list = []
        for d, dm in displays:
            stored = self._display_entry(d, dm, key, 0)
            if stored is None:
                return None
            out.extend(stored)
        return out

    def _display_entry(self, d: ast.Dict, dm: Module, key: str, depth: int) -> Optional[list]:
        """What a display stores under ``key``: [(value, module)] for a literal entry (the last
        one wins), the values of ``**other`` entries that hold it, [] when no entry can hold it,
        None when a computed key or an unresolved ``**`` entry may."""
        found: list = []
        for k, v in reversed(list(zip(d.keys, d.values))):
            if k is None:  # ``**other``: its displays may hold the key, or leave it to earlier entries
                inner = self._dict_displays(v, dm, dm.scope_of(v), depth + 1, key) if depth < 4 else None
                if not inner:
                    return None
                parts = [self._display_entry(i, im, key, depth + 1) for i, im in inner]
                if any(p is None for p in parts):
                    return None
                for p in parts:
                    found.extend(p)  # type: ignore[arg-type]
                if all(parts):
                    return found  # every dict ``other`` can be holds it: earlier entries are overridden
            elif not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                return None
            elif k.value == key:
                return found + [(v, dm)]
        return found

    def _dict_displays(self, e: ast.AST, m: Module, scope, depth: int, key: Optional[str] = None) -> Optional[list]:
        """The ``{...}`` displays (with their modules) that ``e`` can be, or None when unknown.
        ``dict(k=v, ...)`` counts as the display ``{"k": v, ...}``; ``dict(x, ...)``, ``x.copy()`` and
        ``copy.deepcopy(x)`` as ``{**x, ...}``. ``key``: the key that will be looked up — a dict
        written through under another key (``cfg.pop("type")``) still tells what this one holds."""
        if isinstance(e, ast.Dict):
            return [(e, m)]
        if depth > 4:
            return None
        if isinstance(e, ast.Call):
            d = self._dict_call_display(e, m)
            if d is not None and d.keys == [None]:  # a plain copy: the displays of what it copies
                return self._dict_displays(d.values[0], m, scope, depth + 1, key)
            return [(d, m)] if d is not None else None
        if isinstance(e, ast.Subscript):  # ``cfg["norm_cfg"]``: the displays stored under that key
            k = e.slice
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                return None
            outer = self._dict_displays(e.value, m, scope, depth + 1, k.value)
            if not outer:
                return None
            out: list = []
            for d, dm in outer:
                got = self._displays_of_values(self._display_entry(d, dm, k.value, 0), depth, key)
                if got is None:
                    return None
                out.extend(got)
            return out
        if isinstance(e, ast.Attribute):
            return self._attribute_dict_displays(e, m, depth, key)
        if not isinstance(e, ast.Name):
            return None
        wkey = (id(m), e.id)
        if wkey not in self._written:
            self._written[wkey] = _written_through(e.id, m)
        written = self._written[wkey]
        if written is _ALL_KEYS or (written and (key is None or key in written)):  # type: ignore[operator]
            return None
        found = self.binding_of(e.id, m, scope)
        if found is None:
            return None
        bindings, owner = found
        active = ("displays", id(m), e.id, id(owner))
        if active in self._active:
            return []  # ``cfg = dict(cfg)``: the copy adds no display the other bindings lack
        self._active.add(active)  # type: ignore[arg-type]
        try:
            out = []
            for b in bindings:
                if b.kind in ("expr", "global"):
                    got = self._dict_displays(b.expr, m, b.func if b.kind == "global" else owner, depth + 1, key)
                elif b.kind == "param":
                    got = self._param_dict_displays(b.func, e.id, m, depth, key)
                elif b.kind == "kwargs":
                    got = self._kwargs_dict_displays(b.func, m, depth, key)
                else:
                    got = None
                if got is None:
                    return None
                out.extend(got)
        finally:
            self._active.discard(active)  # type: ignore[arg-type]
        return out or None

    def _attribute_dict_displays(self, e: ast.Attribute, m: Module, depth: int, key: Optional[str]) -> Optional[list]:
        """``self.bn_kwargs``: the displays of every ``x.bn_kwargs = ...`` store of the project (none
        written through under ``key`` anywhere: ``self.bn_kwargs["momentum"] = ...``)."""
        if m.imports.resolve(e) in _API_CONSTANTS or (dotted(e.value) or "").split(".")[0] in m.imports.aliases:
            return None  # a module attribute (``config.BN_KWARGS``) is not followed here
        stores = self.attr_stores.get(e.attr)
        if not stores or any(value is None for value, _sm in stores):
            return None
        wkey = (0, "." + e.attr)
        if wkey not in self._written:
            self._written[wkey] = _attribute_written_through(e.attr, self.project)
        written = self._written[wkey]
        if written is _ALL_KEYS or (written and (key is None or key in written)):  # type: ignore[operator]
            return None
        active = ("attr-displays", e.attr)
        if active in self._active:
            return []
        self._active.add(active)  # type: ignore[arg-type]
        try:
            out: list = []
            for value, sm in stores:
                got = self._dict_displays(value, sm, sm.scope_of(value), depth + 1, key)
                if got is None:
                    return None
                out.extend(got)
        finally:
            self._active.discard(active)  # type: ignore[arg-type]
        return out or None

    def _dict_call_display(self, call: ast.Call, m: Module) -> Optional[ast.Dict]:
        """``dict(k=v, **x)`` / ``dict(x, k=v)`` / ``x.copy()`` / ``copy.copy(x)`` /
        ``copy.deepcopy(x)`` as the equivalent display (made once per call), or None."""
        if id(call) in self._call_displays:
            return self._call_displays[id(call)]
        f = call.func
        q = m.imports.resolve(f) if isinstance(f, (ast.Name, ast.Attribute)) else None
        base: Optional[ast.AST] = None
        d: Optional[ast.Dict] = None
        if isinstance(f, ast.Name) and f.id == "dict" and q in (None, "dict", "builtins.dict") and len(call.args) <= 1 \
                and not any(isinstance(a, ast.Starred) for a in call.args):
            base = call.args[0] if call.args else None
            keys: list = [None] if base is not None else []
            values: list = [base] if base is not None else []
            for kw in call.keywords:
                keys.append(ast.Constant(kw.arg) if kw.arg is not None else None)
                values.append(kw.value)
            d = ast.Dict(keys=keys, values=values)
        elif q in ("copy.copy", "copy.deepcopy") and len(call.args) == 1 and not call.keywords \
                and not isinstance(call.args[0], ast.Starred):
            d = ast.Dict(keys=[None], values=[call.args[0]])
        elif isinstance(f, ast.Attribute) and f.attr == "copy" and not call.args and not call.keywords:
            d = ast.Dict(keys=[None], values=[f.value])
        if d is not None:
            ast.copy_location(d, call)
            d.end_lineno, d.end_col_offset = call.end_lineno, call.end_col_offset
        self._call_displays[id(call)] = d
        return d

    def _param_dict_displays(self, func_node: ast.AST, param: str, m: Module, depth: int,
                             key: Optional[str] = None) -> Optional[list]:
        info = self._func_by_node.get(id(func_node))
        spec = _param_spec(func_node, param) if info is not None and not func_node.decorator_list else None
        if spec is None:
            return None
        is_method = info.cls is not None
        if self._escapes(info, is_method) is UNKNOWN:
            return None
        out: list = []
        for call, cm, offset, _partial in self._call_sites(info, is_method):
            arg = _argument(call, param, spec[0], offset)
            if arg is _OPAQUE:
                # ``Backbone(**MODEL_CFG)``: the entry of the splatted dicts named like the parameter
                got = self._splat_dict_displays(call, cm, param, spec[0], offset, depth, key)
                if got is None:
                    return None
                out.extend(got)
                continue
            if arg is None:
                if spec[1] is None:
                    continue
                arg, cm = spec[1], m
            got = self._dict_displays(arg, cm, cm.scope_of(arg), depth + 1, key)
            if not got:
                return None
            out.extend(got)
        return out or None

    def _kwargs_dict_displays(self, func_node: ast.AST, m: Module, depth: int, key: Optional[str]) -> Optional[list]:
        """``def make_norm(kind, c, **kwargs)``: at every call site of the project, the keywords that
        no named parameter takes (``make_norm("bn", 64, momentum=0.99)`` -> ``{"momentum": 0.99}``),
        with the call's own ``**`` splats. None when the function is decorated, passed around, called
        through ``functools.partial`` or never called, or when ``key`` names one of its parameters."""
        info = self._func_by_node.get(id(func_node))
        if info is None or isinstance(func_node, ast.Lambda) or func_node.decorator_list:
            return None
        a = func_node.args
        named = {x.arg for x in a.posonlyargs + a.args + a.kwonlyargs}
        if key is not None and key in named:
            return None
        is_method = info.cls is not None
        if self._escapes(info, is_method) is UNKNOWN:
            return None
        out: list = []
        for call, cm, _offset, partial in self._call_sites(info, is_method):
            if partial:
                return None
            keys, values = [], []
            for kw in call.keywords:
                if kw.arg is None or kw.arg not in named:
                    keys.append(ast.Constant(kw.arg) if kw.arg is not None else None)
                    values.append(kw.value)
            d = ast.Dict(keys=keys, values=values)
            ast.copy_location(d, call)
            out.append((d, cm))
        return out or None

    def _splat_dict_displays(self, call: ast.Call, cm: Module, param: str, position: Optional[int], offset: int,
                             depth: int, key: Optional[str]) -> Optional[list]:
        """The displays a parameter receives through the ``**`` arguments of ``call`` (no ``*args``
        may reach its position); None when unknown or when no splat passes it."""
        if position is not None and any(isinstance(a, ast.Starred) for a in call.args[:max(position - offset + 1, 0)]):
            return None
        out: list = []
        for kw in call.keywords:
            if kw.arg is not None:
                continue
            got = self._displays_of_values(self.key_sources(kw.value, cm, param), depth, key)
            if got is None:
                return None
            out.extend(got)
        return out or None

    def _displays_of_values(self, stored: Optional[list], depth: int, key: Optional[str]) -> Optional[list]:
        """The dict displays behind every (value, module) of ``stored``; None when there is none,
        or when one value's displays are unknown."""
        if not stored:
            return None
        out: list = []
        for value, vm in stored:
            got = self._dict_displays(value, vm, vm.scope_of(value), depth + 1, key)
            if not got:
                return None
            out.extend(got)
        return out

    def _map(self, vals: Values, fn) -> Values:
        if vals is UNKNOWN:
            return UNKNOWN
        return frozenset(RUNTIME if _is_marker(v) else fn(v) for v in vals)

    def _boolop(self, e: ast.BoolOp, m: Module, scope) -> Values:
        results: Values = frozenset([_SENTINEL])
        for operand in e.values:
            vals = self.values(operand, m, scope)
            if vals is UNKNOWN or len(results) * max(len(vals), 1) > _MAX_PRODUCT:
                return UNKNOWN
            nxt = set()
            for acc in results:
                for v in vals:
                    if acc is _SENTINEL:
                        nxt.add(v)
                    elif _is_marker(acc) or _is_marker(v):
                        nxt.add(RUNTIME)
                    elif isinstance(e.op, ast.And):
                        nxt.add(v if acc else acc)
                    else:
                        nxt.add(acc if acc else v)
            results = frozenset(nxt)
        return results

    def _compare(self, e: ast.Compare, m: Module, scope) -> Values:
        op = e.ops[0]
        if not isinstance(op, (ast.Eq, ast.NotEq, ast.Is, ast.IsNot)):
            return UNKNOWN
        left, right = self.values(e.left, m, scope), self.values(e.comparators[0], m, scope)
        if left is UNKNOWN or right is UNKNOWN or len(left) * len(right) > _MAX_PRODUCT:
            return UNKNOWN
        out = set()
        for a in left:
            for b in right:
                if _is_marker(a) or _is_marker(b):
                    out.add(RUNTIME)
                elif isinstance(op, ast.Eq):
                    out.add(a == b)
                elif isinstance(op, ast.NotEq):
                    out.add(a != b)
                elif isinstance(op, ast.Is):
                    out.add(a is b)
                else:
                    out.add(a is not b)
        return frozenset(out)

    def binding_of(self, name: str, m: Module, scope) -> Optional[tuple[list, Optional[ast.AST]]]:
        """The bindings of ``name`` seen from ``scope`` (the innermost enclosing function, then the
        module, that binds it) and that owner (None: the module); None when nothing binds it."""
        owner = scope
        while True:
            sb = self.scope(owner if owner is not None else m.tree)
            if name in sb.names:
                if owner is None:  # a module variable: stores through ``import <this module>`` count too
                    return sb.names[name] + self.module_stores(m, name), owner
                return sb.names[name], owner
            if owner is None:
                return None
            owner = m.scope_of(owner)

    def single_value(self, name: str, m: Module, scope) -> Optional[ast.expr]:
        """The expression ``name`` is bound to when it is bound exactly once, by an assignment, in the
        scope that binds it (seen from ``scope``); None otherwise."""
        found = self.binding_of(name, m, scope)
        if found is None or len(found[0]) != 1 or found[0][0].kind != "expr":
            return None
        return found[0][0].expr

    def _name(self, name: str, m: Module, scope) -> Values:
        found = self.binding_of(name, m, scope)
        return self._bindings(name, found[0], m, found[1]) if found is not None else UNKNOWN

    def _bindings(self, name: str, bindings: list[_Binding], m: Module, owner) -> Values:
        out: Values = frozenset()
        for b in bindings:
            if b.kind == "expr":
                v = self.values(b.expr, m, owner)
            elif b.kind == "global":  # assigned after ``global name`` in a function: read in its scope
                v = self.values(b.expr, m, b.func)
            elif b.kind == "store" and b.module is not None:  # ``settings.NAME = v`` in another module
                v = self.values(b.expr, b.module)
            elif b.kind == "param":
                v = self.param_values(b.func, name, m)
            elif b.kind == "import":
                v = self._imported(name, m)
            else:
                v = UNKNOWN
            out = _union(out, v)
            if out is UNKNOWN:
                return UNKNOWN
        return out

    def _imported(self, name: str, m: Module) -> Values:
        """A module constant imported from another module of the project."""
        target = m.imports.aliases.get(name)
        if not target or "." not in target.lstrip("."):
            return UNKNOWN
        mod_name, _, attr = target.lstrip(".").rpartition(".")
        other = self.project.module_named(mod_name, m)
        if other is None or other is m:
            return UNKNOWN
        sb = self.scope(other.tree)
        if attr not in sb.names:
            return UNKNOWN
        return self._bindings(attr, sb.names[attr] + self.module_stores(other, attr), other, None)

    def _attribute(self, e: ast.Attribute, m: Module, scope) -> Values:
        q = m.imports.resolve(e)
        if q in _API_CONSTANTS:
            return frozenset([_API_CONSTANTS[q]])
        base = dotted(e.value)
        if base is not None and base.split(".")[0] in m.imports.aliases:
            # ``config.IS_TRAINING`` with ``import config``: a project module's constant.
            target = m.imports.resolve(e.value)
            other = self.project.module_named(target, m) if target else None
            if other is not None and other is not m:
                sb = self.scope(other.tree)
                if e.attr in sb.names:
                    return self._bindings(e.attr, sb.names[e.attr] + self.module_stores(other, e.attr), other, None)
            return self._command_line_option(e, m) if (target or "").endswith("flags.FLAGS") else UNKNOWN
        stores = self.program_attr_stores(e.attr, m)
        if not stores:
            return self._command_line_option(e, m)
        out: Values = frozenset()
        for value, sm in [*stores, *self.init_stores(e.attr, m)]:
            v = UNKNOWN if value is None else self.values(value, sm)
            out = _union(out, v)
            if out is UNKNOWN:
                return UNKNOWN
        return out

    def _command_line_option(self, e: ast.Attribute, m: Module) -> Values:
        """``args.phase`` / ``FLAGS.mode``: what the command line can make an option, when its
        receiver is a parsed-arguments object and the project declares the option (see
        ``command_line_options``). A user can pass any value, so only a closed set counts: the
        ``choices`` (plus the default, which argparse does not check against them), an
        ``absl`` ``DEFINE_enum``/``DEFINE_bool``, ``store_true``/``store_false``. A default
        without choices is UNKNOWN."""
        if not self._options_receiver(e.value, m, m.scope_of(e), 0):
            return UNKNOWN
        options = command_line_options(self.project).get(e.attr)
        if not options:
            return UNKNOWN
        out: Values = frozenset()
        for opt in options:
            if opt.closed is None:
                return UNKNOWN
            out = _union(out, frozenset(opt.closed))
            if opt.default is not None:
                out = _union(out, self.values(opt.default, opt.module))
            if out is UNKNOWN:
                return UNKNOWN
        return out

    def command_line_default(self, e: ast.AST, m: Module, scope) -> Optional[tuple]:
        """``(value,)``: what ``args.flag`` holds in a run that does not pass the option, when that
        is decided: ``args`` is the result of a ``parse_args()`` (directly, or a parameter every call
        site passes one), nothing in the program stores ``flag`` on an object or writes the parsed
        arguments dynamically, and the declarations fix the default (``option_default``). None
        otherwise. Unlike ``values``, this is the value of the configuration the program ships,
        not every value a command line could produce."""
        if not isinstance(e, ast.Attribute) or self.program_attr_stores(e.attr, m):
            return None
        component = self.project.import_component(m)
        if component & _dynamic_option_writers(self.project):
            return None
        if not self._parsed_receiver(e.value, m, scope, 0):
            return None
        return option_default(self.project, e.attr, component)

    def _parsed_receiver(self, expr: ast.AST, m: Module, scope, depth: int) -> bool:
        """Is ``expr`` the namespace a ``parser.parse_args()`` / ``parse_known_args()[0]`` call
        returns (no ``namespace=`` of the caller's own), through single assignments and parameters
        that every call site passes one?"""
        if depth > 4:
            return False
        if isinstance(expr, ast.Subscript) and isinstance(expr.slice, ast.Constant) and expr.slice.value == 0:
            expr = expr.value
            if not (isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute)
                    and expr.func.attr == "parse_known_args"):
                return False
        if isinstance(expr, ast.Call):
            return isinstance(expr.func, ast.Attribute) and expr.func.attr in _PARSE_CALLS \
                and len(expr.args) <= 1 and all(kw.arg == "args" for kw in expr.keywords)
        if not isinstance(expr, ast.Name):
            return False
        found = self.binding_of(expr.id, m, scope)
        if found is None or len(found[0]) != 1:
            return False
        b = found[0][0]
        if b.kind == "expr" and b.expr is not None:
            return self._parsed_receiver(b.expr, m, found[1], depth + 1)
        if b.kind != "param":
            return False
        func = b.func
        info = self._func_by_node.get(id(func))
        spec = _param_spec(func, expr.id) if info is not None else None
        if spec is None:
            return False
        sites = list(self._call_sites(info, info.cls is not None))
        if not sites:
            return False
        for call, cm, offset, _partial in sites:
            arg = _argument(call, expr.id, spec[0], offset)
            if arg is None or arg is _OPAQUE or not self._parsed_receiver(arg, cm, cm.scope_of(call), depth + 1):
                return False
        return True

    def _options_receiver(self, expr: ast.AST, m: Module, scope, depth: int) -> bool:
        """``_is_options_receiver``, or a parameter that every call site in the project passes
        one (``Model(config)`` called as ``Model(opts)`` with ``opts = parser.parse_args()``)."""
        if _is_options_receiver(expr, m, self.project):
            return True
        if not isinstance(expr, ast.Name) or depth > 3:
            return False
        found = self.binding_of(expr.id, m, scope)
        if found is None:
            return False
        bindings = found[0]
        if len(bindings) != 1 or bindings[0].kind != "param":
            return False
        func = bindings[0].func
        info = self._func_by_node.get(id(func))
        spec = _param_spec(func, expr.id) if info is not None else None
        if spec is None:
            return False
        is_method = info.cls is not None
        sites = list(self._call_sites(info, is_method))
        if not sites:
            return False
        for call, cm, offset, _partial in sites:
            if info.name == "__init__" and not _may_init(call, cm, info):
                continue  # ``super().__init__()`` of an unrelated class
            arg = _argument(call, expr.id, spec[0], offset)
            if arg is None or arg is _OPAQUE or not self._options_receiver(arg, cm, cm.scope_of(call), depth + 1):
                return False
        return True

    def _call(self, e: ast.Call, m: Module, scope) -> Values:
        q = m.imports.resolve(e.func)
        if q is None and isinstance(e.func, ast.Name) and e.func.id == "bool":
            q = "bool"
        if q in _PASSTHROUGH:
            arg = e.args[0] if e.args else _kw(e, "value", "x")
            out = self.values(arg, m, scope)
            if q == "bool" and out is UNKNOWN and arg is not None and self._config_kind(arg, m, scope, 0) == "text":
                return frozenset([True])  # bool("false") of a config/environment string is True
            return out
        if q in _NEGATE:
            arg = e.args[0] if e.args else _kw(e, "x")
            return self._map(self.values(arg, m, scope), lambda v: not v)
        if q in _PLACEHOLDER:
            return frozenset([self._placeholder(e, m, None)])
        if q in _PLACEHOLDER_WITH_DEFAULT:
            arg = e.args[0] if e.args else _kw(e, "input")
            default = self.values(arg, m, scope)
            return frozenset([self._placeholder(e, m, default)])
        return UNKNOWN

    def _config_kind(self, e: ast.AST, m: Module, scope, depth: int) -> Optional[str]:
        """What a configparser / environment read is: "parser" (a ``configparser.ConfigParser``),
        "section" (``parser["train"]``) or "text" (an option read from them with ``[...]`` or
        ``get``, ``os.environ[...]``, ``os.getenv(k, "non-empty default")``: always a str, so
        ``bool()`` of it is True even for "false"); None when it is none of them or unknown."""
        key = ("config", id(e))
        if key not in self._cache:
            self._cache[key] = self._config_kind_of(e, m, scope, depth)  # type: ignore[index]
        return self._cache[key]  # type: ignore[index,return-value]

    def _config_kind_of(self, e: ast.AST, m: Module, scope, depth: int) -> Optional[str]:
        if depth > 10:
            return None
        if isinstance(e, ast.Subscript) and isinstance(e.ctx, ast.Load):
            if m.imports.resolve(e.value) == "os.environ":
                return "text"
            return {"parser": "section", "section": "text"}.get(self._config_kind(e.value, m, scope, depth + 1) or "")
        if isinstance(e, ast.Call):
            q = m.imports.resolve(e.func) or ""
            if q in _CONFIG_PARSERS:
                return "parser"
            if q in ("os.getenv", "os.environ.get"):
                return "text" if _non_empty_str(e.args[1] if len(e.args) > 1 else _kw(e, "default")) else None
            if isinstance(e.func, ast.Attribute) and e.func.attr == "get":
                inner = self._config_kind(e.func.value, m, scope, depth + 1)
                fallback = _kw(e, "fallback")
                if inner == "parser" and len(e.args) == 2 and (fallback is None or _non_empty_str(fallback)):
                    return "text"  # parser.get(section, option): a str, or NoOptionError
                if inner == "section" and _non_empty_str(e.args[1] if len(e.args) > 1 else fallback):
                    return "text"  # section.get(option) alone is None when the option is missing
                return None
            if isinstance(e.func, ast.Name):
                return self._returned_config_kind(e.func.id, m, depth)
            return None
        if not isinstance(e, ast.Name):
            return None
        found = self.binding_of(e.id, m, scope)
        if found is None:
            return None
        bindings, owner = found
        kinds = set()
        for b in bindings:
            if b.kind == "expr":
                kinds.add(self._config_kind(b.expr, m, owner, depth + 1))
            elif b.kind == "param":
                kinds.add(self._param_config_kind(b.func, e.id, m, depth + 1))
            else:
                return None
            if len(kinds) > 1:
                return None
        return kinds.pop() if kinds else None

    def _param_config_kind(self, func: ast.AST, param: str, m: Module, depth: int) -> Optional[str]:
        """The config kind every call site of the project passes for ``param`` (``train(cfg)`` with
        ``cfg = load_config(...)``). Unlike constants, a function also referenced elsewhere
        (``tf.train`` shares the name ``train``) is judged by its calls: what a config is does not
        depend on a caller we do not see."""
        info = self._func_by_node.get(id(func))
        spec = _param_spec(func, param) if info is not None and info.cls is None else None
        if spec is None:
            return None
        kinds = set()
        for call, cm, offset, _partial in self._call_sites(info, False):
            arg = _argument(call, param, spec[0], offset)
            if arg is None or arg is _OPAQUE:
                return None
            kinds.add(self._config_kind(arg, cm, cm.scope_of(call), depth + 1))
            if len(kinds) > 1:
                return None
        return kinds.pop() if kinds else None

    def _returned_config_kind(self, name: str, m: Module, depth: int) -> Optional[str]:
        """``load_config(path)``: the kind every ``return`` of that module-level function gives."""
        info = next((f for f in m.functions if f.name == name and f.cls is None
                     and isinstance(m.parent(f.node), ast.Module)), None)
        if info is None:
            return None
        returns = [n for n in _own_nodes(info.node) if isinstance(n, ast.Return)]
        kinds = {self._config_kind(r.value, m, info.node, depth + 1) if r.value is not None else None for r in returns}
        return kinds.pop() if len(kinds) == 1 else None

    def _placeholder(self, e: ast.Call, m: Module, default) -> Placeholder:
        key = ("placeholder", id(e))
        ph = self._cache.get(key)  # type: ignore[arg-type]
        if ph is None:
            names = set()
            parent = m.parent(e)
            if isinstance(parent, (ast.Assign, ast.AnnAssign, ast.NamedExpr)):
                targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
                for t in targets:
                    n = _last_name(t)
                    if n:
                        names.add(n)
            elif isinstance(parent, ast.keyword) and parent.arg:
                names.add(parent.arg)  # ``dict(is_training=tf.placeholder(...))``
            tensor_name = _kw(e, "name")
            tn = tensor_name.value if isinstance(tensor_name, ast.Constant) and isinstance(tensor_name.value, str) else None
            ph = Placeholder(e, m, default, frozenset(names), tn)
            self._cache[key] = ph  # type: ignore[index]
        return ph  # type: ignore[return-value]

    # --- parameters ---------------------------------------------------------------------------
    def param_values(self, func_node: ast.AST, param: str, m: Module) -> Values:
        key = (id(func_node), param)
        if key in self._param_cache:
            return self._param_cache[key]
        if key in self._active:
            self._cycles += 1
            return frozenset()
        self._active.add(key)
        before = self._cycles
        try:
            out = self._param_values(func_node, param, m)
        finally:
            self._active.discard(key)
        if self._cycles == before:
            self._param_cache[key] = out
        return out

    def _param_values(self, func_node: ast.AST, param: str, m: Module) -> Values:
        info = self._func_by_node.get(id(func_node))
        if info is None or isinstance(func_node, ast.Lambda):
            return UNKNOWN
        for dec in func_node.decorator_list:
            d = dec.func if isinstance(dec, ast.Call) else dec
            q = m.imports.resolve(d) or dotted(d)
            if q not in _TRANSPARENT_DECORATORS:
                return UNKNOWN
        spec = _param_spec(func_node, param)
        if spec is None:
            return UNKNOWN
        position, default = spec
        is_method = info.cls is not None and not any(
            isinstance(d, ast.Name) and d.id == "staticmethod" for d in func_node.decorator_list)
        sites = list(self._call_sites(info, is_method))
        escapes = self._escapes(info, is_method)
        if escapes is UNKNOWN:
            return UNKNOWN
        sites.extend(escapes)  # functools.partial(f, ...) sites
        if not sites:
            return UNKNOWN  # called only by code outside the project (or a framework)
        out: Values = frozenset()
        default_scope = m.scope_of(func_node)
        for call, cm, offset, partial in sites:
            arg = _argument(call, param, position, offset)
            if arg is _OPAQUE:
                return UNKNOWN
            if arg is None:
                if partial:
                    return UNKNOWN  # bound later, by whoever calls the partial
                if default is None:
                    continue  # a call that omits a required argument fails; it adds nothing
                v = self.values(default, m, default_scope)
            else:
                v = self.values(arg, cm)
            out = _union(out, v)
            if out is UNKNOWN:
                return UNKNOWN
        return out

    def _call_sites(self, info: FunctionInfo, is_method: bool):
        name = info.name
        for site in self.project.call_sites(name):
            f = site.node.func
            if isinstance(f, ast.Attribute):
                if is_method and name == "__init__" and info.cls is not None:
                    if not _may_init(site.node, site.module, info):
                        continue  # ``super().__init__()`` of a class that does not derive from this one
                    owner = dotted(f.value)
                    if owner and owner != "self":  # ``Base.__init__(self, ...)``: self passed explicitly
                        if owner.rsplit(".", 1)[-1] == info.cls.name:
                            yield site.node, site.module, 0, False
                        continue
                if is_method:
                    yield site.node, site.module, 1, False
                elif _module_attribute(f, site.module) and self.project.attribute_may_name(site.module, f, info.module):
                    # ``net.inference(...)`` runs the ``inference`` of the ``net.py`` its import names
                    # (the one beside the caller), not another experiment's ``net.py``
                    yield site.node, site.module, 0, False
            elif isinstance(f, ast.Name) and not is_method:
                if site.module is not info.module and _defines_function(site.module, name):
                    continue  # that module calls its own ``name`` (separate scripts reuse names)
                if not self.project.imports_name_from(site.module, name, info.module):
                    continue  # ``from runtime.run import train`` names another sub-project's module
                yield site.node, site.module, 0, False
        if is_method and name == "__init__" and info.cls is not None:
            for site in self.project.call_sites(info.cls.name):
                yield site.node, site.module, 1, False

    def _escapes(self, info: FunctionInfo, is_method: bool):
        """``functools.partial(f, ...)`` sites, or UNKNOWN when ``f`` is passed around otherwise."""
        found = []
        names = [info.name] + ([info.cls.name] if is_method and info.name == "__init__" and info.cls else [])
        refs = self.references
        for name in names:
            for ref, mod in refs.get(name, ()):
                is_class_ref = info.cls is not None and name == info.cls.name and name != info.name
                if isinstance(ref, ast.Name):
                    if is_method and not is_class_ref:
                        continue  # a bare name is not this method
                    if name not in mod.imports.aliases and not any(
                            f.name == name for f in mod.functions) and not any(
                            c.name == name for c in mod.classes):
                        continue  # a local variable that happens to share the name
                    if mod is not info.module and not is_class_ref and _defines_function(mod, name):
                        continue  # that module's own ``name`` (a nested ``def step`` returned by a factory)
                elif isinstance(ref, ast.Attribute):
                    if is_class_ref or (not is_method and not _module_attribute(ref, mod)):
                        continue
                parent = mod.parent(ref)
                if (isinstance(parent, ast.Call) and parent.args and parent.args[0] is ref
                        and (mod.imports.resolve(parent.func) or dotted(parent.func) or "").endswith("partial")):
                    offset = 1 if is_method and (is_class_ref or isinstance(ref, ast.Attribute)) else 0
                    found.append((parent, mod, offset, True))
                    continue
                if isinstance(parent, ast.ClassDef) or _is_decorator(ref, parent):
                    continue  # ``class Sub(Model)``
                if is_class_ref and isinstance(parent, ast.Attribute) and parent.attr == "__init__" \
                        and isinstance(mod.parent(parent), ast.Call) and mod.parent(parent).func is parent:
                    continue  # ``Base.__init__(self, ...)``: a call site of ``__init__`` (``_call_sites``)
                if (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Name)
                        and parent.func.id in ("isinstance", "issubclass", "super", "type")):
                    continue
                if isinstance(parent, (ast.Tuple,)) and isinstance(mod.parent(parent), ast.Call) and isinstance(
                        mod.parent(parent).func, ast.Name) and mod.parent(parent).func.id in ("isinstance", "issubclass"):
                    continue
                return UNKNOWN
        return found

    # --- feeds --------------------------------------------------------------------------------
    def is_fed(self, ph: Placeholder) -> bool:
        feeds = self.feeds
        if ph.names & feeds.key_names:
            return True
        if ph.tensor_name and ph.tensor_name in feeds.key_strings:
            return True
        if feeds.opaque and ph.names & feeds.listed_names:
            return True
        for expr, mod in feeds.key_exprs:
            n = _last_name(expr)
            if n is not None and n not in ph.names and isinstance(expr, (ast.Name, ast.Attribute)):
                # a key under another name can still be this placeholder (``flag = model.is_training``)
                v = self.values(expr, mod)
                if v is not UNKNOWN and ph in v:
                    return True
        return False


_SENTINEL = object()
_OPAQUE = object()
_DICT_WRITERS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"})
_ALL_KEYS = object()  # a write that may change any key


def _dict_write_keys(n: ast.AST, is_target):
    """The string keys ``n`` writes when it changes a dict that ``is_target(expr)`` accepts
    (``d[k] = v``, ``del d[k]``, ``d.pop(k)``, ``d.update(k=v)``...): empty when ``n`` writes no such
    dict, ``_ALL_KEYS`` when the write may change any key (a computed key, ``d.update(other)``,
    ``d.clear()``)."""
    if isinstance(n, ast.Subscript) and not isinstance(n.ctx, ast.Load) and is_target(n.value):
        if not (isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)):
            return _ALL_KEYS
        return frozenset((n.slice.value,))
    if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _DICT_WRITERS \
            and is_target(n.func.value):
        attr = n.func.attr
        if attr in ("pop", "setdefault", "__setitem__", "__delitem__") and n.args \
                and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str):
            return frozenset((n.args[0].value,))
        if attr == "update" and not n.args and all(kw.arg is not None for kw in n.keywords):
            return frozenset(kw.arg for kw in n.keywords)
        return _ALL_KEYS
    return frozenset()


def _written_through(name: str, m: Module):
    """The keys of a dict bound to ``name`` changed in ``m`` (see ``_dict_write_keys``): a
    frozenset of them, or ``_ALL_KEYS`` when a write may change any key. Then its display does
    not tell what those keys hold."""
    def is_target(e: ast.expr) -> bool:
        return isinstance(e, ast.Name) and e.id == name
    keys: set = set()
    for n in astwalk.walk(m.tree) if m.mentions(name + "[") or m.mentions(name + ".") else ():
        got = _dict_write_keys(n, is_target)
        if got is _ALL_KEYS:
            return _ALL_KEYS
        keys |= got
    return frozenset(keys)


def _attribute_written_through(attr: str, project: Project):
    """``_written_through`` for an attribute of any object: ``x.attr[k] = v``, ``x.attr.pop(k)``..."""
    def is_target(e: ast.expr) -> bool:
        return isinstance(e, ast.Attribute) and e.attr == attr
    keys: set = set()
    for m in project.modules:
        if not m.mentions("." + attr):
            continue
        for n in astwalk.walk(m.tree):
            got = _dict_write_keys(n, is_target)
            if got is _ALL_KEYS:
                return _ALL_KEYS
            keys |= got
    return frozenset(keys)


# --------------------------------------------------------------------------------------------------
# Command-line options (argparse ``add_argument``, absl / ``tf.app.flags`` ``DEFINE_*``)
# --------------------------------------------------------------------------------------------------
@dataclass
class CommandLineOption:
    """One declaration of an option: its destination name, the module declaring it, its default
    expression (None: not given) and, when the command line can only produce a closed set of
    values, that set (``closed``; None when any value can be passed)."""

    dest: str
    module: Module
    default: Optional[ast.AST]
    closed: Optional[frozenset]
    action: Optional[str] = None  # argparse action ("store_true", "?" when not a literal); "set_defaults"; "absl"
    node: Optional[ast.Call] = None


_OPTION_NAMES = frozenset({"args", "opt", "opts", "options", "arguments", "flags", "FLAGS", "cmd_args", "cli_args"})
_PARSE_CALLS = ("parse_args", "parse_known_args")


def command_line_options(project: Project) -> dict[str, list[CommandLineOption]]:
    """dest -> every declaration of that option in the project."""
    return project.fact("values.command_line_options", _collect_options)


def _constant_set(expr: Optional[ast.AST]) -> Optional[frozenset]:
    if not isinstance(expr, (ast.List, ast.Tuple, ast.Set)) or not expr.elts:
        return None
    if not all(isinstance(x, ast.Constant) for x in expr.elts):
        return None
    return frozenset(x.value for x in expr.elts)


def _collect_options(project: Project) -> dict[str, list[CommandLineOption]]:
    """Empty when some declaration names its option dynamically (``add_argument('--' + key, ...)``,
    ``**kwargs``, ``set_defaults(**config)``): that option could be any of the others."""
    out: dict[str, list[CommandLineOption]] = defaultdict(list)
    for m in project.modules:
        for c in m.calls:
            node = c.node
            if c.name == "add_argument" and isinstance(node.func, ast.Attribute):
                opt = _argparse_option(node, m)
            elif c.name and c.name.startswith("DEFINE_"):
                opt = _absl_option(node, m, c.name)
            elif c.name == "set_defaults" and isinstance(node.func, ast.Attribute):
                if node.args or any(kw.arg is None for kw in node.keywords):
                    return {}
                for kw in node.keywords:  # a new default, unchecked against the choices
                    out[kw.arg].append(CommandLineOption(kw.arg, m, kw.value, frozenset(), "set_defaults", node))
                continue
            else:
                continue
            if opt is None:
                return {}
            out[opt.dest].append(opt)
    return out


def _argparse_option(node: ast.Call, m: Module) -> Optional[CommandLineOption]:
    if any(isinstance(a, ast.Starred) for a in node.args) or any(kw.arg is None for kw in node.keywords):
        return None
    strings = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    dest_kw = _kw(node, "dest")
    if isinstance(dest_kw, ast.Constant) and isinstance(dest_kw.value, str):
        dest = dest_kw.value
    else:
        longs = [s for s in strings if s.startswith("--")]
        dest = (longs[0] if longs else strings[0] if strings else "").lstrip("-").replace("-", "_")
    if not dest:
        return None
    action = _kw(node, "action")
    action = action.value if isinstance(action, ast.Constant) else (None if action is None else "?")
    default = _kw(node, "default")
    closed: Optional[frozenset] = None
    if _kw(node, "nargs") is None and _kw(node, "const") is None:
        if action in (None, "store"):
            closed = _constant_set(_kw(node, "choices"))
            if closed is not None and default is None:
                closed |= {None}  # not passed, no default: argparse stores None
        elif action in ("store_true", "store_false"):
            closed = frozenset([action == "store_true"])
            if default is None:
                closed |= {action != "store_true"}
    return CommandLineOption(dest, m, default, closed, action or "store", node)


_ARGPARSE_ACTION_DEFAULTS = {"store_true": False, "store_false": True, "store": None}


def option_default(project: Project, dest: str, component: Optional[frozenset] = None) -> Optional[tuple]:
    """``(value,)``: the value argparse stores for ``dest`` when the command line does not pass it;
    None when the declarations do not decide it. argparse gives a destination the default of its
    FIRST added action (``--flag`` ``store_true`` then ``--no-flag`` ``store_false`` with the same
    ``dest``: False), unless ``parser.set_defaults(dest=...)`` overrides it. Only one scope's
    ``add_argument`` calls count (several parsers, or declarations spread over functions whose call
    order is not read here, leave it undecided), with literal defaults. ``component``: the ids of
    the program's modules (``Project.import_component``); other scripts' declarations do not count."""
    decls = command_line_options(project).get(dest)
    if decls and component is not None:
        decls = [d for d in decls if id(d.module) in component]
    if not decls:
        return None
    first = decls[0]
    if any(d.node is None or d.module is not first.module or d.action == "absl" for d in decls):
        return None
    if len({id(first.module.scope_of(d.node)) for d in decls}) != 1:
        return None
    adds = sorted((d for d in decls if d.action != "set_defaults"), key=lambda d: (d.node.lineno, d.node.col_offset))
    overrides = [d for d in decls if d.action == "set_defaults"]
    if not adds:
        return None
    if overrides:
        values = {repr(d.default.value) if isinstance(d.default, ast.Constant) else None for d in overrides}
        if None in values or len(values) != 1 or any(d.default is not None for d in adds):
            return None
        return (overrides[0].default.value,)  # type: ignore[union-attr]
    head = adds[0]
    if head.default is not None:
        return (head.default.value,) if isinstance(head.default, ast.Constant) else None
    if head.action not in _ARGPARSE_ACTION_DEFAULTS:
        return None
    return (_ARGPARSE_ACTION_DEFAULTS[head.action],)


def _dynamic_option_writers(project: Project) -> frozenset:
    """Ids of the modules that write a parsed-arguments object by computed names (``setattr(args, k,
    v)``, ``vars(args).update(cfg)``, ``args.__dict__.update(...)``: a config file merged over the
    command line): in their programs no option's default is known to survive."""
    return project.fact("values.dynamic_option_writers", _dynamic_option_writes)


def _dynamic_option_writes(project: Project) -> frozenset:
    def options_object(e: ast.AST) -> bool:
        return _is_options_receiver(e, m, project)

    def options_dict(e: ast.AST) -> bool:  # ``args.__dict__`` / ``vars(args)``
        if isinstance(e, ast.Attribute) and e.attr == "__dict__":
            return options_object(e.value)
        return isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "vars" and bool(e.args) \
            and options_object(e.args[0])

    out = set()
    for m in project.modules:
        if not (m.mentions("setattr") or m.mentions("__dict__") or m.mentions("vars(")):
            continue
        for c in m.calls:
            node, f = c.node, c.node.func
            if isinstance(f, ast.Name) and f.id == "setattr" and len(node.args) >= 2 \
                    and not isinstance(node.args[1], ast.Constant) and options_object(node.args[0]):
                out.add(id(m))
            if isinstance(f, ast.Attribute) and f.attr in _DICT_WRITERS and options_dict(f.value):
                out.add(id(m))
        for node in m.nodes_of_kind.get(ast.Assign, ()):
            if any(isinstance(t, ast.Subscript) and options_dict(t.value) for t in node.targets):
                out.add(id(m))
    return frozenset(out)


def _absl_option(node: ast.Call, m: Module, name: str) -> Optional[CommandLineOption]:
    def arg(i: int, key: str) -> Optional[ast.AST]:
        return node.args[i] if len(node.args) > i else _kw(node, key)

    dest = arg(0, "name")
    if not (isinstance(dest, ast.Constant) and isinstance(dest.value, str)):
        return None
    closed: Optional[frozenset] = None
    if name == "DEFINE_enum":
        closed = _constant_set(arg(2, "enum_values"))
    elif name in ("DEFINE_bool", "DEFINE_boolean"):
        closed = frozenset([True, False])
    return CommandLineOption(dest.value, m, arg(1, "default"), closed, "absl", node)


def _is_options_receiver(expr: ast.AST, m: Module, project: Project) -> bool:
    """Is ``expr`` (the ``args`` of ``args.phase``) a parsed-arguments object: a name conventional
    for one (``args``, ``opt``, ``FLAGS``; also as ``self.args``), ``absl.flags.FLAGS``, or a name
    bound to a ``parse_args()`` result somewhere in the project?"""
    q = m.imports.resolve(expr) if isinstance(expr, (ast.Name, ast.Attribute)) else None
    if q and q.endswith("flags.FLAGS"):
        return True
    last = _last_name(expr)
    if last is None:
        return False
    return last in _OPTION_NAMES or last in project.fact("values.parsed_args_names", _parsed_args_names)


def _may_init(call: ast.Call, m: Module, info: FunctionInfo) -> bool:
    """Can this call run ``info`` (an ``__init__``)? ``super().__init__(...)`` only in a class that
    names ``info``'s class among its bases."""
    f = call.func
    if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
            and f.value.func.id == "super"):
        return True
    cls = m.enclosing_class(call)
    return cls is not None and info.cls is not None and any(
        (dotted(b) or "").rsplit(".", 1)[-1] == info.cls.name for b in cls.bases)


def _parsed_args_names(project: Project) -> set:
    out = set()
    for m in project.modules:
        for c in m.calls:
            if c.name in _PARSE_CALLS:
                parent = m.parent(c.node)
                if isinstance(parent, ast.Subscript):  # ``parser.parse_known_args()[0]``
                    parent = m.parent(parent)
                if isinstance(parent, ast.Assign):
                    for t in parent.targets:
                        t = t.elts[0] if isinstance(t, ast.Tuple) and t.elts else t
                        n = _last_name(t)
                        if n:
                            out.add(n)
    return out


def _kw(call: ast.Call, *names: str) -> Optional[ast.AST]:
    for kw in call.keywords:
        if kw.arg in names:
            return kw.value
    return None


def _defines_function(m: Module, name: str) -> bool:
    names = m.__dict__.get("_values_function_names")
    if names is None:
        names = m.__dict__["_values_function_names"] = {f.name for f in m.functions if f.cls is None}
    return name in names


def _module_attribute(f: ast.Attribute, m: Module) -> bool:
    """Is ``x.f`` a module attribute (``models.net``), not a method of some object?"""
    base = dotted(f.value)
    return base is not None and base.split(".")[0] in m.imports.aliases


def _is_decorator(ref: ast.AST, parent: Optional[ast.AST]) -> bool:
    return isinstance(parent, (ast.FunctionDef, ast.AsyncFunctionDef)) and ref in parent.decorator_list


def _param_spec(func: ast.AST, param: str) -> Optional[tuple[Optional[int], Optional[ast.AST]]]:
    """(positional index or None for keyword-only, default expression or None)."""
    a = func.args
    positional = a.posonlyargs + a.args
    for i, arg in enumerate(positional):
        if arg.arg == param:
            k = i - (len(positional) - len(a.defaults))
            return i, (a.defaults[k] if k >= 0 else None)
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        if arg.arg == param:
            return None, d
    return None


def _argument(call: ast.Call, param: str, position: Optional[int], offset: int):
    """The expression a call passes for ``param``; None when omitted; _OPAQUE when *args/**kw hide it."""
    for kw in call.keywords:
        if kw.arg == param:
            return kw.value
    if position is not None:
        idx = position - offset
        if idx < 0:
            return None if offset else _OPAQUE
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return _OPAQUE
            if i == idx:
                return a
    if any(kw.arg is None for kw in call.keywords):
        return _OPAQUE
    return None


_CONFIG_PARSERS = {f"{mod}.{cls}" for mod in ("configparser", "ConfigParser", "backports.configparser")
                   for cls in ("ConfigParser", "RawConfigParser", "SafeConfigParser")}


def _non_empty_str(expr: Optional[ast.AST]) -> bool:
    return isinstance(expr, ast.Constant) and isinstance(expr.value, str) and bool(expr.value)


def _own_nodes(fn: ast.AST):
    """The nodes of a function body, nested functions and classes excluded."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield n
        stack.extend(ast.iter_child_nodes(n))


def _union(a: Values, b: Values) -> Values:
    if a is UNKNOWN or b is UNKNOWN:
        return UNKNOWN
    return a | b


def _all(vals: Values, pred) -> bool:
    if vals is UNKNOWN or not vals:
        return False
    return all(not _is_marker(v) and pred(v) for v in vals)


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def resolver(project: Project) -> _Resolver:
    return project.fact("values.resolver", _Resolver)


def possible_values(expr: Optional[ast.AST], module: Module, project: Project) -> Values:
    """The constants/markers ``expr`` can evaluate to, or UNKNOWN."""
    return resolver(project).values(expr, module)


def param_values(func: FunctionInfo | ast.AST, param: str, module: Module, project: Project) -> Values:
    """What parameter ``param`` of ``func`` can be, over every call site in the project."""
    node = func.node if isinstance(func, FunctionInfo) else func
    return resolver(project).param_values(node, param, module)


def always_false(expr: Optional[ast.AST], module: Module, project: Project) -> bool:
    """True only when every value ``expr`` can take is a falsy constant (no run-time value)."""
    return _all(possible_values(expr, module, project), lambda v: not v)


def always_false_values(vals: Values) -> bool:
    """Every value in an already resolved set is a falsy constant."""
    return _all(vals, lambda v: not v)


def always_true_values(vals: Values) -> bool:
    return _all(vals, lambda v: bool(v))


def always_true(expr: Optional[ast.AST], module: Module, project: Project) -> bool:
    return _all(possible_values(expr, module, project), lambda v: bool(v))


def placeholders(vals: Values) -> list[Placeholder]:
    if vals is UNKNOWN:
        return []
    return [v for v in vals if isinstance(v, Placeholder)]


def is_fed(ph: Placeholder, project: Project) -> bool:
    """Does anything in the project feed this placeholder (feed_dict key by identity, by variable
    name, by tensor name, ``d[flag] = ...``, ``dict(...)``, ``.update``)?"""
    return resolver(project).is_fed(ph)


def keyword_sources(call: ast.Call, keyword: str, position: Optional[int], module: Module,
                    project: Project) -> Optional[list[tuple[ast.AST, Module]]]:
    """The expressions (with their modules) a call may pass for ``keyword``: the keyword itself, the
    argument at ``position`` (not after a ``*args``), else the entries under that key of the dicts
    splatted with ``**`` (``BatchNorm2d(c, **bn_kwargs)`` with ``bn_kwargs = dict(momentum=0.9)``).
    [] when the call surely omits it (the parameter keeps its default); None when a splat may hold
    it and its dicts are unknown."""
    for kw in call.keywords:
        if kw.arg == keyword:
            return [(kw.value, module)]
    if position is not None:
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return None
            if i == position:
                return [(a, module)]
    out: list[tuple[ast.AST, Module]] = []
    for kw in call.keywords:
        if kw.arg is None:
            stored = resolver(project).key_sources(kw.value, module, keyword)
            if stored is None:
                return None
            out.extend(stored)
    return out


def is_constant_set(vals: Values) -> bool:
    return vals is not UNKNOWN and bool(vals) and not any(_is_marker(v) for v in vals)
