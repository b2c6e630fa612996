"""Facts the Keras/TF2 and Flax rules share.

* which canonical names are Keras (every spelling: ``keras``, ``tf.keras``, ``tf_keras``,
  ``keras.src``...) and which of them build BatchNormalization;
* which expressions are models that contain BN (Sequential/functional/subclassed definitions in the
  project, ``keras.applications`` constructors that build BN, factories returning them);
* where the training steps are (``GradientTape`` blocks, ``train_step`` overrides, ``minimize`` loss
  functions) and whose variables they differentiate (the "gradient roots");
* what constant values a flag can take (through ``bnguard.lint.values``).

Nothing here imports a framework.
"""
from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional

from bnguard.lint import astwalk
from bnguard.lint import values
from bnguard.lint.imports import dotted
from bnguard.lint.memo import per_node
from bnguard.lint.project import CallSite, FuncNode, Module, Project

# Spellings that all mean "the Keras API" once folded to ``keras.``.
_KERAS_PREFIXES = (
    "tensorflow.python.keras", "tensorflow.keras", "tf_keras.src", "tf_keras", "keras._tf_keras.keras",
    "keras.src", "keras.api._v2.keras", "keras.api", "keras",
)
BN_LAYER_NAMES = {"BatchNormalization", "BatchNormalizationV1", "BatchNormalizationV2", "SyncBatchNormalization"}

# keras.applications constructors whose architecture contains BatchNormalization layers
# (VGG16/VGG19 and ConvNeXt do not: VGG has no normalisation, ConvNeXt uses LayerNormalization).
BN_APPLICATIONS = re.compile(
    r"^(ResNet\d+(V2)?|ResNetRS\d+|MobileNet(V2|V3Small|V3Large)?|EfficientNet(B[0-7]|V2(B[0-3]|S|M|L))"
    r"|DenseNet\d+|InceptionV3|InceptionResNetV2|Xception|NASNet(Mobile|Large)|RegNet[XY]\d+)$")

GRAD_ATTRS = {"trainable_variables", "trainable_weights", "variables", "weights", "trainable_params"}


def keras_name(qualname: Optional[str]) -> Optional[str]:
    """``keras.layers.BatchNormalization`` for any Keras spelling of it, else None."""
    if not qualname:
        return None
    for p in _KERAS_PREFIXES:
        if qualname == p or qualname.startswith(p + "."):
            return "keras" + qualname[len(p):]
    # TF2's own v1 layers are Keras layers too (tf.layers.BatchNormalization).
    if qualname.startswith("tensorflow.layers."):
        return "keras.layers." + qualname.rsplit(".", 1)[1]
    return None


def is_keras_bn_layer(qualname: Optional[str]) -> bool:
    k = keras_name(qualname)
    return bool(k) and k.rsplit(".", 1)[-1] in BN_LAYER_NAMES


def is_bn_application(qualname: Optional[str]) -> bool:
    k = keras_name(qualname)
    return bool(k) and ".applications." in k and bool(BN_APPLICATIONS.match(k.rsplit(".", 1)[-1]))


def uses_keras(module: Module) -> bool:
    return module.imports.imports_any("keras", "tensorflow", "tf_keras")


# --------------------------------------------------------------------------------------------------
# small constant resolution


_NOT_LITERAL = object()  # _literal: the node is not a constant


def kwarg(call: ast.Call, name: str) -> Optional[ast.expr]:
    for k in call.keywords:
        if k.arg == name:
            return k.value
    return None


def has_kwargs_splat(call: ast.Call) -> bool:
    return any(k.arg is None for k in call.keywords)


def _literal(node: ast.AST):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
        v = node.operand.value
        if isinstance(node.op, ast.Not):
            return not v
        if isinstance(node.op, ast.USub) and isinstance(v, (int, float)):
            return -v
    return _NOT_LITERAL


def _assignments(body_owner: ast.AST, name: str) -> list[ast.expr]:
    """Values assigned to ``name`` directly in this function/module (nested scopes excluded);
    None for a binding whose value is unknown (unpacking, loop/with target, augmented)."""
    return list(_assignments_by_name(body_owner).get(name, ()))


@per_node
def _assignments_by_name(body_owner: ast.AST) -> dict[str, list[Optional[ast.expr]]]:
    """Every name's assignments in one walk of the scope (callers ask once per use of a name:
    walking the scope per question made a long module quadratic). A name a function declares
    ``global`` / ``nonlocal`` is no local of it: its assignments there count for the module (every
    binding of a module name, ``global TRAINING; TRAINING = True`` in ``main()`` as well) and are
    left out of the function's own."""
    out, declared = _own_assignments(body_owner)
    for name in declared:
        out.pop(name, None)
    if isinstance(body_owner, ast.Module):
        for fn in astwalk.walk(body_owner):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            global_names = {g for n in values._own_scope_nodes(fn) if isinstance(n, ast.Global) for g in n.names}
            if global_names:
                inner, _ = _own_assignments(fn)
                for name in global_names:
                    out.setdefault(name, []).extend(inner.get(name, ()))
    return out


def _own_assignments(body_owner: ast.AST) -> tuple[dict[str, list[Optional[ast.expr]]], set[str]]:
    """The assignments of one scope's own statements, and the names it declares global/nonlocal."""
    out: dict[str, list[Optional[ast.expr]]] = {}
    declared: set[str] = set()

    def add(name: str, value: Optional[ast.expr]) -> None:
        out.setdefault(name, []).append(value)

    def names_in(targets) -> dict[str, None]:
        return dict.fromkeys(e.id for t in targets for e in astwalk.walk(t) if isinstance(e, ast.Name))

    stack = list(ast.iter_child_nodes(body_owner))
    while stack:
        n = stack.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(n, ast.Assign):
            for t in n.targets:
                if isinstance(t, ast.Name):
                    add(t.id, n.value)
                elif isinstance(t, (ast.Tuple, ast.List)) and isinstance(n.value, (ast.Tuple, ast.List)) \
                        and len(t.elts) == len(n.value.elts) and not any(isinstance(e, ast.Starred) for e in t.elts):
                    # generator, critic = make_generator(), make_critic(): element by element
                    for target_elt, value_elt in zip(t.elts, n.value.elts):
                        if isinstance(target_elt, ast.Name):
                            add(target_elt.id, value_elt)
                        else:
                            for name in names_in([target_elt]):
                                add(name, None)
                elif isinstance(t, (ast.Tuple, ast.List)):
                    for name in names_in([t]):
                        add(name, None)  # unpacking: value unknown
        elif isinstance(n, (ast.AnnAssign, ast.AugAssign)) and isinstance(n.target, ast.Name):
            add(n.target.id, n.value if isinstance(n, ast.AnnAssign) else None)
        elif isinstance(n, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.comprehension)):
            targets = [n.target] if hasattr(n, "target") else [i.optional_vars for i in n.items if i.optional_vars]
            for name in names_in(targets):
                add(name, None)
        elif isinstance(n, ast.NamedExpr):
            add(n.target.id, n.value)
        elif isinstance(n, (ast.Global, ast.Nonlocal)):
            declared.update(n.names)
        stack.extend(ast.iter_child_nodes(n))
    return out, declared


def _param_index(fn: FuncNode, name: str) -> tuple[Optional[int], Optional[ast.expr], bool]:
    """(positional index or None, default, found): ``values._param_spec`` with a found flag."""
    spec = values._param_spec(fn, name)
    return (None, None, False) if spec is None else (spec[0], spec[1], True)


def argument_for(call: ast.Call, fn: FuncNode, name: str, *, is_method_call: bool = False) -> tuple[Optional[ast.expr], bool]:
    """The expression a call passes for parameter ``name`` of ``fn``: (expr, explicit).

    When the call does not pass it, the parameter default comes back with explicit False; (None,
    False) means "cannot tell" (``*args``/``**kwargs`` at the call site, or no default).
    """
    idx, default, found = _param_index(fn, name)
    if not found:
        return None, False
    v = kwarg(call, name)
    if v is not None:
        return v, True
    if idx is not None:
        shift = 1 if is_method_call and fn.args.args and fn.args.args[0].arg in ("self", "cls") else 0
        pos = idx - shift
        if any(isinstance(a, ast.Starred) for a in call.args[: pos + 1]):
            return None, False
        if 0 <= pos < len(call.args):
            return call.args[pos], True
    if has_kwargs_splat(call) or any(isinstance(a, ast.Starred) for a in call.args):
        return None, False
    return default, False


# Methods the framework calls (``model(x)`` runs ``call``): a parameter of theirs takes values no
# call site in the project shows, and a same-named call elsewhere (``super().call(x, training=False)``
# in another class) says nothing about them.
FRAMEWORK_HOOKS = {"call", "__call__", "train_step", "test_step", "predict_step", "build", "forward", "setup"}


def constant_values(module: Module, project: Project, expr: Optional[ast.expr]) -> Optional[set]:
    """The constant values ``expr`` can take (``bnguard.lint.values``), or None when any of them is
    unknown or decided at run time; parameters of framework hooks stay unknown."""
    if expr is None:
        return None
    if isinstance(expr, ast.Name):
        scope = module.scope_of(expr)
        if scope is not None and scope.name in FRAMEWORK_HOOKS and _param_index(scope, expr.id)[2] \
                and any(isinstance(a, ast.ClassDef) for a in module.ancestors(scope)):
            return None
    if _reads_constructor_field(module, expr):
        return _field_expression_values(module, project, expr)
    vals = values.possible_values(expr, module, project)
    return set(vals) if values.is_constant_set(vals) else None


def _reads_constructor_field(module: Module, expr: ast.AST) -> bool:
    """Does ``expr`` read ``self.f`` where ``f`` is an annotated class field (a Flax module or a
    dataclass: ``CNN(train=True)`` sets it through the constructor, which no store shows)?"""
    for n in astwalk.walk(expr):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            cls = module.enclosing_class(n)
            if cls is not None and any(isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)
                                       and b.target.id == n.attr for b in cls.body):
                return True
    return False


def _field_expression_values(module: Module, project: Project, expr: ast.AST) -> Optional[set]:
    """Values of ``self.f`` / ``not self.f`` where ``f`` is a field of the enclosing Flax module or
    dataclass: its default and what every construction of the class in the project passes for it
    (``Net()``, ``Net(train=True)``, positionally, ``partial(Net, train=...)``). None when any of
    those is unknown, or the class is subclassed, referred to without being called, or cloned with
    new fields: then some instance may be built with a value no call shows."""
    read = self_attribute_read(module, expr)
    if read is None:
        return None
    cls, attr, negate = read
    got = _field_values(module, project, cls, attr)
    if got is None:
        return None
    return {(not v) for v in got} if negate else got


def self_attribute_stores(module: Module, at: ast.AST, attr: str) -> list[ast.Assign]:
    """The assignments ``self.<attr> = value`` anywhere in the class enclosing ``at``."""
    cls = module.enclosing_class(at)
    return [n for n in (astwalk.walk(cls) if cls is not None else ())
            if isinstance(n, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == attr
                                                 and isinstance(t.value, ast.Name) and t.value.id == "self"
                                                 for t in n.targets)]


def self_attribute_read(module: Module, expr: ast.AST) -> Optional[tuple[ast.ClassDef, str, bool]]:
    """(enclosing class, attribute, negated?) of ``self.f`` / ``not self.f`` / ``not not self.f``
    inside a class; None for anything else."""
    negate = False
    while isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not):
        expr, negate = expr.operand, not negate
    if not (isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self"):
        return None
    cls = module.enclosing_class(expr)
    return None if cls is None else (cls, expr.attr, negate)


_FIELDS_IN_PROGRESS: set = set()  # (class id, field) being resolved: a field threaded in a cycle is unknown


def _field_values(module: Module, project: Project, cls: ast.ClassDef, field_name: str) -> Optional[set]:
    fields = [b for b in cls.body if isinstance(b, ast.AnnAssign) and isinstance(b.target, ast.Name)]
    names = [f.target.id for f in fields]  # type: ignore[union-attr]
    if field_name not in names:
        return None
    decl = fields[names.index(field_name)]
    if any(cls.name in {dotted(b) for b in c.bases} for m in project.modules for c in m.classes):
        return None  # a subclass may set another default
    if any(k.arg == field_name for c in project.call_sites("clone") for k in c.node.keywords):
        return None
    out: set = set()
    if decl.value is not None:
        default = values.possible_values(decl.value, module, project)
        if not values.is_constant_set(default):
            return None
        out |= set(default)
    constructions = 0
    for site in project.call_sites(cls.name) + project.call_sites("partial"):
        node = site.node
        args = list(node.args)
        if site.name == "partial":
            if not args or (dotted(args[0]) or "").rsplit(".", 1)[-1] != cls.name:
                continue
            args = args[1:]
        elif resolve_def(project, site.module, node.func) is not cls:
            continue
        constructions += 1
        if any(isinstance(a, ast.Starred) for a in args) or any(k.arg is None for k in node.keywords):
            return None
        passed = next((k.value for k in node.keywords if k.arg == field_name), None)
        if passed is None and names.index(field_name) < len(args):
            passed = args[names.index(field_name)]
        if passed is None:
            if decl.value is None:
                return None
            continue
        if _reads_constructor_field(site.module, passed):
            # `DenseBlock(train=self.train)` inside another module: that module's field, with its own
            # default and constructions (`Net(train=True)`), not the default alone
            key = (id(cls), field_name)
            if key in _FIELDS_IN_PROGRESS:
                return None
            _FIELDS_IN_PROGRESS.add(key)
            try:
                vals = _field_expression_values(site.module, project, passed)
            finally:
                _FIELDS_IN_PROGRESS.discard(key)
            if vals is None:
                return None
        else:
            vals = values.possible_values(passed, site.module, project)
        if not values.is_constant_set(vals):
            return None
        out |= set(vals)
    if not constructions:
        return None
    # the class handed around by name (``module_cls=Net``) is built where no call shows it
    if any(r is not None for m in project.modules if m.mentions(cls.name) for r in m.references.get(cls.name, ())):
        return None
    return out


def always_false(module: Module, project: Project, expr: Optional[ast.expr]) -> bool:
    vals = constant_values(module, project, expr)
    return bool(vals) and all(v is False or v == 0 for v in vals if not isinstance(v, str)) and all(
        not isinstance(v, str) and v is not None for v in vals)


def always_true(module: Module, project: Project, expr: Optional[ast.expr]) -> bool:
    vals = constant_values(module, project, expr)
    return bool(vals) and all(v is True or (isinstance(v, int) and v == 1) for v in vals)


def argument_values(module: Module, project: Project, expr: Optional[ast.expr], depth: int = 0) -> Optional[set]:
    """The constant values a layer-construction argument (``trainable=affine``) can take, or None
    when any is unknown. Beyond ``constant_values``: a parameter of the module-level function or
    class ``__init__`` it sits in takes the argument each call of it in the project binds (by
    keyword, by position, or the default), and a loop / comprehension variable takes the matching
    element of every entry of the list it iterates (``for f, a in CFG``, ``enumerate``, ``zip``)
    when that list is a display nothing modifies. A function or class used other than by calling
    it (a callback, a base class, ``partial``) may be called where no call shows: unknown. Any
    other expression must have a single value: several (a command-line option, a setting assigned
    in branches) are a choice made at run time, reported as unknown."""
    if expr is None or depth > 4:
        return None
    lit = _literal(expr)
    if lit is not _NOT_LITERAL:
        return {lit}
    if isinstance(expr, ast.Name):
        loop = _loop_binding(module, expr)
        if loop is not None:
            target, iterable = loop
            elements = _iterated_elements(module, target, iterable, expr.id)
            if not elements:
                return None
            out: set = set()
            for elt_module, elt in elements:
                got = argument_values(elt_module, project, elt, depth + 1)
                if got is None:
                    return None
                out |= got
            return out
        fn = module.scope_of(expr)
        if fn is not None and _param_index(fn, expr.id)[2] and not _assignments(fn, expr.id):
            return _parameter_values(module, project, fn, expr.id, depth)
    vals = constant_values(module, project, expr)
    return vals if vals is not None and len(vals) == 1 else None


def _parameter_values(module: Module, project: Project, fn: FuncNode, name: str, depth: int) -> Optional[set]:
    owner = module.parent(fn)
    if owner is module.tree:
        callee = fn
    elif isinstance(owner, ast.ClassDef) and fn.name == "__init__" and module.parent(owner) is module.tree:
        callee = owner
    else:
        return None  # methods and nested functions: callers we cannot enumerate
    refs = [r for m in project.modules if m.mentions(callee.name) for r in m.references.get(callee.name, ())]
    if refs:
        return None
    sites = [s for s in project.call_sites(callee.name) if resolve_def(project, s.module, s.node.func) is callee]
    if not sites:
        return None
    out: set = set()
    for s in sites:
        arg, explicit = argument_for(s.node, fn, name, is_method_call=callee is not fn)
        if arg is None:
            return None
        got = argument_values(s.module if explicit else module, project, arg, depth + 1)
        if got is None:
            return None
        out |= got
    return out


def _loop_binding(module: Module, name: ast.Name) -> Optional[tuple[ast.expr, ast.expr]]:
    """(target, iterable) of the ``for`` loop or comprehension that binds ``name`` where it is used,
    if that is its only binding in the scope."""
    for anc in module.ancestors(name):
        if isinstance(anc, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            for gen in anc.generators:
                if name.id in {n.id for n in astwalk.walk(gen.target) if isinstance(n, ast.Name)}:
                    return gen.target, gen.iter
        elif isinstance(anc, (ast.For, ast.AsyncFor)):
            if name.id in {n.id for n in astwalk.walk(anc.target) if isinstance(n, ast.Name)}:
                if not any(name is n for st in anc.body for n in astwalk.walk(st)):
                    return None
                scope = module.scope_of(anc)
                bindings = _assignments(scope if scope is not None else module.tree, name.id)
                return (anc.target, anc.iter) if len(bindings) == 1 else None
        elif isinstance(anc, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            return None
    return None


def _iterated_elements(module: Module, target: ast.expr, iterable: ast.expr,
                       name: str) -> Optional[list[tuple[Module, ast.expr]]]:
    """The expressions ``name`` (part of the loop ``target``) is bound to, one per element of
    ``iterable``: ``enumerate(X)`` and ``zip(A, B)`` are unpacked, ``X`` is a list/tuple display or a
    name bound once (in the scope, else the module) to one that nothing appends to or changes."""
    while isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Name) and not iterable.keywords \
            and iterable.func.id in ("enumerate", "zip", "list", "tuple"):
        fname, args = iterable.func.id, iterable.args
        if fname in ("list", "tuple") and len(args) == 1:
            iterable = args[0]
            continue
        if not isinstance(target, ast.Tuple) or any(isinstance(a, ast.Starred) for a in args):
            return None
        if fname == "enumerate" and len(args) == 1 and len(target.elts) == 2:
            pair = [(target.elts[1], args[0])]
        elif fname == "zip" and len(args) == len(target.elts):
            pair = list(zip(target.elts, args))
        else:
            return None
        hit = [(t, it) for t, it in pair if any(isinstance(n, ast.Name) and n.id == name for n in astwalk.walk(t))]
        if len(hit) != 1:
            return None
        target, iterable = hit[0]
    display = _list_display(module, iterable)
    elts: Optional[list] = display.elts if display is not None else _dict_elements(module, iterable)
    if elts is None:
        return None
    out = []
    for elt in elts:
        bound = _destructure(target, elt, name)
        if bound is None or getattr(bound, "_bnguard_synthetic", False):
            return None
        out.append((module, bound))
    return out


_DICT_MUTATORS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "__setitem__", "__delitem__"})


def _dict_elements(module: Module, iterable: ast.expr) -> Optional[list]:
    """What a loop over a dict display gets, one per entry: ``for phase in loaders`` /
    ``loaders.keys()`` the keys, ``loaders.values()`` the values, ``loaders.items()`` (key, value)
    pairs; the dict a display or a name bound once to one that nothing changes. None otherwise."""
    view = None
    if isinstance(iterable, ast.Call) and isinstance(iterable.func, ast.Attribute) and not iterable.args \
            and not iterable.keywords and iterable.func.attr in ("items", "keys", "values"):
        view, iterable = iterable.func.attr, iterable.func.value
    d = iterable
    if isinstance(d, ast.Name):
        d = _sole_unchanged_binding(module, d, (ast.Dict,), _DICT_MUTATORS)
    if not isinstance(d, ast.Dict) or any(k is None for k in d.keys):
        return None  # ``{**base, ...}``: entries we cannot see
    if view == "values":
        return list(d.values)
    if view == "items":
        pairs = []
        for k, v in zip(d.keys, d.values):
            pair = ast.Tuple(elts=[k, v], ctx=ast.Load())
            pair._bnguard_synthetic = True  # type: ignore[attr-defined]  # no node of the module
            pairs.append(pair)
        return pairs
    return list(d.keys)


_LIST_MUTATORS = frozenset({"append", "extend", "insert", "__setitem__", "pop", "remove", "clear", "sort", "reverse"})


def _list_display(module: Module, expr: ast.expr) -> Optional[ast.expr]:
    if isinstance(expr, (ast.List, ast.Tuple)):
        return None if any(isinstance(e, ast.Starred) for e in expr.elts) else expr
    if not isinstance(expr, ast.Name):
        return None
    bound = _sole_unchanged_binding(module, expr, (ast.List, ast.Tuple), _LIST_MUTATORS)
    return None if bound is None else _list_display(module, bound)


def _sole_unchanged_binding(module: Module, name: ast.Name, kinds: tuple, mutators: frozenset) -> Optional[ast.expr]:
    """The one display of ``kinds`` that ``name`` is bound to (in its scope, else at module level
    when it is not a parameter) and that nothing changes in place (a mutator method, an item stored
    or deleted, a ``global``/``nonlocal`` rebinding); None otherwise."""
    scope = module.scope_of(name)
    bound = _assignments(scope if scope is not None else module.tree, name.id)
    if not bound and scope is not None and not _param_index(scope, name.id)[2]:
        bound = _assignments(module.tree, name.id)
    if len(bound) != 1 or not isinstance(bound[0], kinds):
        return None
    for n in astwalk.walk(module.tree):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == name.id \
                and n.attr in mutators:
            return None
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, (ast.Store, ast.Del)) \
                and isinstance(n.value, ast.Name) and n.value.id == name.id:
            return None
        if isinstance(n, (ast.Global, ast.Nonlocal)) and name.id in n.names:
            return None
    return bound[0]


def _destructure(target: ast.expr, value: ast.expr, name: str) -> Optional[ast.expr]:
    """The part of ``value`` that ``name`` in the assignment target ``target`` gets, if visible."""
    if isinstance(target, ast.Name):
        return value if target.id == name else None
    if isinstance(target, (ast.Tuple, ast.List)) and isinstance(value, (ast.Tuple, ast.List)) \
            and len(target.elts) == len(value.elts) \
            and not any(isinstance(e, ast.Starred) for e in target.elts + value.elts):
        for t, v in zip(target.elts, value.elts):
            if any(isinstance(n, ast.Name) and n.id == name for n in astwalk.walk(t)):
                return _destructure(t, v, name)
    return None


# --------------------------------------------------------------------------------------------------
# which expressions are models that contain BN


def _class_bases(module: Module, cls: ast.ClassDef) -> list[str]:
    return [module.imports.resolve(b) or (dotted(b) or "") for b in cls.bases]


def resolve_def(project: Project, module: Module, func: ast.AST) -> Optional[ast.AST]:
    """The project class or function a callee names inside ``module``: defined there, or imported
    from a project module (``from nets import build``, ``import nets; nets.build``). None otherwise:
    a name is never matched across unrelated modules (two classes called ``Model`` are common)."""
    return resolve_def_in(project, module, func)[1]


def resolve_def_in(project: Project, module: Module, func: ast.AST) -> tuple[Optional[Module], Optional[ast.AST]]:
    """``resolve_def`` with the module that defines the class or function."""
    if isinstance(func, ast.Name):
        n = _toplevel_defs(module.tree).get(func.id)
        if n is not None:
            return module, n
        target = module.imports.aliases.get(func.id)
        if not target or "." not in target:
            return None, None
        source_name, _, name = target.rpartition(".")
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        source_name, name = module.imports.aliases.get(func.value.id) or "", func.attr
    else:
        return None, None
    source = project.module_named(source_name, module) if source_name and hasattr(project, "module_named") else None
    if source is None or source is module:
        return None, None
    found = _toplevel_defs(source.tree).get(name)
    return (source, found) if found is not None else (None, None)


@per_node
def _toplevel_defs(tree: ast.AST) -> dict[str, ast.AST]:
    """Module-level classes and functions by name (the first definition of a name)."""
    out: dict[str, ast.AST] = {}
    for n in tree.body:  # type: ignore[attr-defined]
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.setdefault(n.name, n)
    return out


def _live_bn_in(project: Project, module: Module, node: ast.AST, found: Optional[set[int]] = None) -> bool:
    """Does ``node`` build BatchNormalization that can train: a BN layer, a BN-building application
    or project builder, unless it is deliberately in inference mode — created ``trainable=False``,
    bound to a name set ``.trainable = False`` somewhere, or called with ``training=False``
    (``base(inputs, training=False)``, the transfer-learning pattern of the Keras guide)?"""
    if found is not None:  # inside the fixed point of bn_builders
        return any(is_bn or id(d) in found for is_bn, d in _live_constructions(project, module, node))
    # asked once per model call: a functional model's whole function (or module) is the region
    memo: dict = project.fact("keras.live_bn_in.memo", lambda p: {})  # type: ignore[assignment]
    verdict = memo.get(id(node))
    if verdict is None:
        builders = bn_builders(project)
        verdict = memo[id(node)] = any(is_bn or id(d) in builders for is_bn, d in _live_constructions(project, module, node))
    return verdict


def _live_constructions(project: Project, module: Module, node: ast.AST,
                        calls: Optional[list[CallSite]] = None) -> Iterator[tuple[bool, Optional[ast.AST]]]:
    """The calls in ``node`` that build something able to train: (True, None) for a BN layer /
    BN-building application, (False, definition) for a call of a project class or function (a BN
    builder when that definition is one). ``calls``: the indexed call sites inside ``node`` when
    the caller has them (then ``node`` is not walked); the order of the calls is not significant."""
    frozen = frozen_names(project, module)
    if calls is None:
        resolve = module.imports.resolve
        pairs = [(n, resolve(n.func)) for n in astwalk.walk(node) if isinstance(n, ast.Call)]
    else:
        pairs = [(c.node, c.qualname) for c in calls]
    modes: Optional[tuple[frozenset, frozenset]] = None  # made at the first bound construction
    for n, q in pairs:
        is_bn = is_keras_bn_layer(q) or is_bn_application(q)
        d = None
        if not is_bn:
            d = resolve_def(project, module, n.func)
            if d is None:
                continue
        tr = kwarg(n, "trainable")
        if isinstance(tr, ast.Constant) and tr.value is False:
            continue
        parent = module.parent(n)
        if isinstance(parent, ast.Call) and parent.func is n and _is_false_literal(training_arg(parent)[0]):
            continue  # BatchNormalization()(x, training=False)
        bound = module.bound_name(n)
        if bound:
            if bound in frozen:
                continue
            if modes is None:
                modes = _fixed_training_modes(call for call, _ in pairs)
            inference, always_training = modes
            if bound in inference:
                continue
            if bound in always_training:
                continue  # self.bn(x, training=True) / backbone(inputs, training=True) everywhere: trains anyway
        yield is_bn, d


def _calls_by_toplevel_def(module: Module) -> dict[int, list[CallSite]]:
    """The module's call sites grouped by the module-level class / function holding them (by line
    span: module-level statements never share lines with a definition outside its body)."""
    spans = []
    for n in module.tree.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            start = min([n.lineno] + [d.lineno for d in n.decorator_list])
            spans.append((start, n.end_lineno or n.lineno, n))
    starts = [sp[0] for sp in spans]
    out: dict[int, list[CallSite]] = {id(sp[2]): [] for sp in spans}
    for c in module.calls:
        i = bisect.bisect_right(starts, c.node.lineno) - 1
        if i >= 0 and c.node.lineno <= spans[i][1]:
            out[id(spans[i][2])].append(c)
    return out


def _is_false_literal(expr: Optional[ast.AST]) -> bool:
    return isinstance(expr, ast.Constant) and expr.value in (False, 0) and not isinstance(expr.value, str)


def _fixed_training_modes(calls: Iterable[ast.Call]) -> tuple[frozenset, frozenset]:
    """What these calls fix the training mode of: (last names of the objects some call runs with
    ``training=False``; last names of the objects that every call gives a literal true ``training``
    — a BN sublayer called so in a subclassed ``call()``, or a backbone bound into a functional
    model as ``backbone(inputs, training=True)`` (SimCLR / BYOL encoders): those normalize with
    batch statistics and update their moving statistics whatever training flag the outer model
    receives, since an explicit ``training`` in a functional graph is kept at every run)."""
    inference: set[str] = set()
    fixed: set[str] = set()
    other: set[str] = set()
    for n in calls:
        flag = training_arg(n)[0]
        d = dotted(n.func)
        if not d:
            continue
        last = d.rsplit(".", 1)[-1]
        if _is_false_literal(flag):
            inference.add(last)
        (fixed if isinstance(flag, ast.Constant) and flag.value is True else other).add(last)
    return frozenset(inference), frozenset(fixed - other)


def bn_builders(project: Project) -> set[int]:
    """ids of the module-level project classes and functions that build BN (directly, through a
    base class, or by calling another BN builder): the least fixed point, by a work list over the
    definitions each one uses (each definition is walked once)."""
    def compute(p: Project):
        found: set[int] = set()
        users: dict[int, list[int]] = {}  # definition id -> ids of the definitions that build it live
        todo: list[int] = []
        for m in p.modules:
            calls_in = _calls_by_toplevel_def(m)
            for n in m.tree.body:
                if not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    continue
                direct = False
                for b in (n.bases if isinstance(n, ast.ClassDef) else []):
                    if is_bn_application(m.imports.resolve(b)) or (
                            is_keras_bn_layer(m.imports.resolve(b)) and not _forces_inference(n)):  # type: ignore[arg-type]
                        direct = True
                        break
                    users.setdefault(id(resolve_def(p, m, b) or b), []).append(id(n))
                if not direct:
                    for is_bn, d in _live_constructions(p, m, n, calls_in[id(n)]):
                        if is_bn:
                            direct = True
                            break
                        users.setdefault(id(d), []).append(id(n))
                if direct and id(n) not in found:
                    found.add(id(n))
                    todo.append(id(n))
        while todo:
            for user in users.get(todo.pop(), ()):
                if user not in found:
                    found.add(user)
                    todo.append(user)
        return found
    return project.fact("keras.bn_builders", compute)


def _forces_inference(cls: ast.ClassDef) -> bool:
    """Does a BatchNormalization subclass put itself in inference mode somewhere in its methods
    (``training = False``, ``super().call(x, training=False)``: a frozen BN such as keras-resnet's
    ``freeze``)? Such a layer is not counted as a BN that trains; a subclass that only adapts the
    flag (yolov4's ``training = tf.logical_and(training, self.trainable)``) is a BN."""
    for n in astwalk.walk(cls):
        if isinstance(n, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "training" for t in n.targets) \
                and _literal(n.value) is False:
            return True
        if isinstance(n, ast.keyword) and n.arg == "training" and _literal(n.value) is False:
            return True
    return False


def is_bn_model(module: Module, project: Project, expr: Optional[ast.expr], depth: int = 0) -> bool:
    """Is ``expr`` (a callee such as ``model``, ``self.net``, ``self``) a model/layer containing BN?"""
    if expr is None or depth > 4:
        return False
    # Memoised per (node, depth): a parameter is judged by every call site of its function, found
    # by name, so without the memo a chain of parameters revisits the same arguments exponentially
    # often (a Keras source tree: 4 million visits for one finding).
    memo: dict = project.fact("keras.is_bn_model.memo", lambda p: {})  # type: ignore[assignment]
    key = (id(expr), depth)
    found = memo.get(key)
    if found is None:
        found = memo[key] = _is_bn_model(module, project, expr, depth)
    return found


def _is_bn_model(module: Module, project: Project, expr: ast.expr, depth: int) -> bool:
    if isinstance(expr, ast.Call):
        q = module.imports.resolve(expr.func)
        if is_keras_bn_layer(q) or is_bn_application(q):
            return True
        kn = keras_name(q) or ""
        if kn in ("keras.Sequential", "keras.models.Sequential"):
            return _live_bn_in(project, module, expr) or _bn_model_element(module, project, expr, depth)
        if kn in ("keras.Model", "keras.models.Model"):
            # functional model: built next to BN layers (or BN blocks) in the same function/module
            scope = module.scope_of(expr)
            owner = scope if scope is not None else module.tree
            return _live_bn_in(project, module, owner) or (
                scope is not None and _runs_bn_model_parameter(module, project, scope, depth))
        if kn in ("keras.models.clone_model",) and expr.args:
            return is_bn_model(module, project, expr.args[0], depth + 1)
        if q in _TF_FUNCTION:  # `tf.function(model)` runs the model it wraps
            target = _tf_function_model(expr)
            return target is not None and is_bn_model(module, project, target, depth + 1)
        if isinstance(expr.func, ast.Subscript):
            return _registry_builds_bn(module, project, expr.func)
        d = resolve_def(project, module, expr.func)
        if d is not None and id(d) in bn_builders(project):
            return True
        # ``model = prepare_for_mc(model)``: a helper that hands back the model it was given
        passed = _returned_argument(expr, d) if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) else None
        if isinstance(passed, ast.Name):
            scope = module.scope_of(expr)
            if scope is not None and _param_index(scope, passed.id)[2] \
                    and all(a is expr for a in _assignments(scope, passed.id)):
                return _param_is_bn_model(project, scope, passed.id, depth)  # ``model = prep(model)``, model a parameter
        if passed is not None:
            return is_bn_model(module, project, passed, depth + 1)
        # a factory returning a functional model it builds over a sub-model handed in (see
        # _runs_bn_model_parameter): ``return keras.Model(inputs, outputs)``
        if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
            dmod = resolve_def_in(project, module, expr.func)[0]
            returns = _returns_of(d)
            if dmod is not None and returns and all(isinstance(r.value, ast.Call) and isinstance(r.value.func, ast.Subscript)
                                                    for r in returns):  # ``return MODELS[name](cfg)``
                return all(_registry_builds_bn(dmod, project, r.value.func) for r in returns)  # type: ignore[union-attr]
            return dmod is not None and dmod.mentions("Model") and any(
                isinstance(r.value, ast.Call)
                and keras_name(dmod.imports.resolve(r.value.func)) in ("keras.Model", "keras.models.Model")
                and is_bn_model(dmod, project, r.value, depth) for r in _returns_of(d))  # one step: no depth
        return False
    if isinstance(expr, ast.Name):
        scope = module.scope_of(expr)
        owner: ast.AST = scope if scope is not None else module.tree
        assigned = _reaching_values(module, owner, [a for a in _assignments(owner, expr.id) if a is not None], expr)
        while not assigned and scope is not None:
            _, _, is_param = _param_index(scope, expr.id)
            if is_param:
                return _param_is_bn_model(project, scope, expr.id, depth)
            # a free variable of a nested function (a train step closure): the enclosing
            # function's binding, then the module's
            scope = module.scope_of(scope)
            assigned = [a for a in _assignments(scope if scope is not None else module.tree, expr.id) if a is not None]
        if any(is_bn_model(module, project, a, depth + 1) for a in assigned):
            return True
        # ``model, augmenter, net = build()``: the element a project factory returns at that position
        scope = module.scope_of(expr)
        while scope is not None and not _assignments(scope, expr.id) and not _param_index(scope, expr.id)[2]:
            scope = module.scope_of(scope)
        owner = scope if scope is not None else module.tree
        if None not in _assignments(owner, expr.id):
            return False
        return any(is_bn_model(m, project, e, depth + 1) for m, e in _unpacked_factory_elements(project, module, owner, expr.id))
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        return any(is_bn_model(module, project, n.value, depth + 1)
                   for n in self_attribute_stores(module, expr, expr.attr))
    return False


def _registry_builds_bn(module: Module, project: Project, sub: ast.Subscript) -> bool:
    """``MODELS[name](cfg)`` with ``MODELS = {"a": build_a, "b": build_b}`` a module-level dict
    literal (bound once) whose every value is a project BN builder: whichever entry the key picks
    builds BN."""
    if not isinstance(sub.value, ast.Name):
        return False
    values = _assignments(module.tree, sub.value.id)
    if len(values) != 1 or not isinstance(values[0], ast.Dict) or not values[0].values \
            or None in values[0].keys:
        return False
    builders = bn_builders(project)
    return all(isinstance(v, (ast.Name, ast.Attribute)) and id(resolve_def(project, module, v)) in builders
               for v in values[0].values)


def _reaching_values(module: Module, owner: ast.AST, assigned: list[ast.expr], at: ast.expr) -> list[ast.expr]:
    """The values of ``assigned`` (bindings of a name in ``owner``'s own statements) that can reach
    the use ``at`` in the same scope: those bound before the statement holding ``at`` and not
    overwritten by a later binding that dominates it (a plain assignment in a block on ``at``'s
    path, before it, not computed from the name itself), plus those bound anywhere in a loop around ``at`` (a previous iteration's).
    A notebook rebinding ``model`` in a later cell (``model = build_bn_net()`` after
    ``model = LeNet(); train(model)``) does not change what the earlier call was given. All of
    them when none precedes the use (a binding the scope does not show in order)."""
    if len(assigned) < 2 or not isinstance(at, ast.Name):
        return assigned
    name = at.id
    stmt = module.statement_of(at)
    if stmt is None:
        return assigned
    # the chain of (block owner, child on at's path) pairs, innermost first, up to ``owner``
    path: list[tuple[ast.AST, ast.AST]] = []
    child: ast.AST = stmt
    for a in module.ancestors(stmt):
        path.append((a, child))
        if a is owner:
            break
        child = a
    else:
        return assigned
    loops = [a for a, _ in path if isinstance(a, (ast.For, ast.AsyncFor, ast.While))]
    here = (stmt.lineno, stmt.col_offset)
    before: list[tuple[tuple[int, int], ast.expr, ast.stmt]] = []
    carried: list[ast.expr] = []
    for v in assigned:
        vs = module.statement_of(v)
        if vs is None:
            return assigned
        if any(vs is not l and any(x is l for x in module.ancestors(vs)) for l in loops):
            carried.append(v)
        elif (vs.lineno, vs.col_offset) < here and vs is not stmt:
            before.append(((vs.lineno, vs.col_offset), v, vs))
    if not before:
        return assigned
    kill = (0, 0)
    for pos, _, vs in before:
        if not isinstance(vs, ast.Assign) or not all(isinstance(t, ast.Name) for t in vs.targets):
            continue
        if any(isinstance(n, ast.Name) and n.id == name for n in astwalk.walk(vs.value)):
            continue  # ``model = multi_gpu_model(model)``: built from the value before it, kills nothing
        parent = module.parent(vs)
        on_path = next((c for a, c in path if a is parent), None)
        if on_path is None:
            continue
        same_block = any(isinstance(body, list) and any(x is vs for x in body) and any(x is on_path for x in body)
                         for _, body in ast.iter_fields(parent))
        if same_block and pos > kill:
            kill = pos
    return [v for pos, v, _ in before if pos >= kill] + carried


def _unpacked_factory_elements(project: Project, module: Module, owner: ast.AST, name: str) -> list[tuple[Module, ast.expr]]:
    """``a, b, c = build()`` in ``owner`` (its own statements) with ``build`` a project function whose
    every ``return`` is a tuple of that length: (defining module, element at ``name``'s position) of
    each return."""
    out: list[tuple[Module, ast.expr]] = []
    for n in values._own_scope_nodes(owner):
        if not (isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)):
            continue
        for t in n.targets:
            if not isinstance(t, (ast.Tuple, ast.List)) or any(isinstance(e, ast.Starred) for e in t.elts):
                continue
            pos = next((i for i, e in enumerate(t.elts) if isinstance(e, ast.Name) and e.id == name), None)
            if pos is None:
                continue
            dmod, d = resolve_def_in(project, module, n.value.func)
            if dmod is None or not isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            returns = _returns_of(d)
            if returns and all(isinstance(r.value, ast.Tuple) and len(r.value.elts) == len(t.elts) for r in returns):
                out.extend((dmod, r.value.elts[pos]) for r in returns)  # type: ignore[union-attr]
    return out


def _runs_bn_model_parameter(module: Module, project: Project, fn: FuncNode, depth: int) -> bool:
    """A functional model built in ``fn`` over a sub-model handed in: ``def build(embedding):
    a = keras.Input(...); out = head(embedding(a)); return keras.Model(a, out)`` with callers
    passing a model that has BN (``build(make_embedding())``): the functional model holds the
    sub-model's layers. Not when the sub-model runs with ``training=False`` (kept in inference on
    purpose) or is frozen by name."""
    frozen: Optional[frozenset] = None
    for n in astwalk.walk(fn):
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and _param_index(fn, n.func.id)[2]):
            continue
        if module.scope_of(n) is not fn or _is_false_literal(training_arg(n)[0]) or _assignments(fn, n.func.id):
            continue
        if frozen is None:
            frozen = frozen_names(project, module)
        if n.func.id not in frozen and _param_is_bn_model(project, fn, n.func.id, depth):
            return True
    return False


def _returned_argument(call: ast.Call, fn: FuncNode) -> Optional[ast.expr]:
    """The argument of ``call`` that ``fn`` returns unchanged: every ``return`` of ``fn`` names the
    same parameter, which the body never rebinds (``def prepare(model): ...; return model``)."""
    returns = _returns_of(fn)
    if not returns or any(not isinstance(r.value, ast.Name) for r in returns):
        return None
    name = returns[0].value.id  # type: ignore[union-attr]
    if any(r.value.id != name for r in returns) or _assignments(fn, name):  # type: ignore[union-attr]
        return None
    if not _param_index(fn, name)[2]:
        return None
    arg, explicit = argument_for(call, fn, name)
    return arg if explicit else None


def _bn_model_element(module: Module, project: Project, sequential: ast.Call, depth: int) -> bool:
    """``Sequential([base, Dropout(0.5), Dense(10)])``: a layer given by name that is itself a model
    with BN (``base = ResNet50(...)``), unless that name is frozen (``base.trainable = False``)."""
    layers = sequential.args[0] if sequential.args else kwarg(sequential, "layers")
    if not isinstance(layers, (ast.List, ast.Tuple)):
        return False
    frozen = frozen_names(project, module)
    return any(isinstance(e, ast.Name) and e.id not in frozen and is_bn_model(module, project, e, depth + 1)
               for e in layers.elts)


def known_bn_free(module: Module, project: Project, expr: Optional[ast.expr]) -> bool:
    """Is ``expr`` visibly a model without trainable BN: every value bound to it is a Sequential,
    functional model, keras.applications or project class/factory call whose content we can see,
    and none of them contains live BN? Unknown origins (parameters, ``load_model``) are not."""
    if expr is None or is_bn_model(module, project, expr):
        return False
    assigned: list[ast.expr] = []
    if isinstance(expr, ast.Name):
        scope = module.scope_of(expr)
        owner = scope if scope is not None else module.tree
        assigned = _assignments(owner, expr.id)
        if not assigned and scope is not None and not _param_index(scope, expr.id)[2]:
            assigned = _assignments(module.tree, expr.id)
    elif isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        assigned = [n.value for n in self_attribute_stores(module, expr, expr.attr)]
    if not assigned:
        return False
    for a in assigned:
        if not isinstance(a, ast.Call):
            return False
        k = keras_name(module.imports.resolve(a.func)) or ""
        visible = k in ("keras.Sequential", "keras.models.Sequential", "keras.Model", "keras.models.Model") \
            or ".applications." in k or resolve_def(project, module, a.func) is not None
        if not visible:
            return False
    return True


def _param_is_bn_model(project: Project, fn: FuncNode, name: str, depth: int) -> bool:
    info = next((fi for fi in project.functions(fn.name) if fi.node is fn), None)
    home = info.module if info is not None else None
    if fn.name == "__call__" and info is not None and info.cls is not None:
        # `evaluator(model)` runs Evaluator.__call__(self, model)
        for c in instance_calls(project, info.module, info.cls):
            expr, _ = argument_for(c.node, fn, name, is_method_call=True)
            if expr is not None and is_bn_model(c.module, project, expr, depth + 1):
                return True
        return False
    if fn.name == "__init__" and info is not None and info.cls is not None:
        # `Validator(model, ds)` runs Validator.__init__(self, model, dataset)
        for c in project.call_sites(info.cls.name):
            if resolve_def(project, c.module, c.node.func) is not info.cls:
                continue
            expr, _ = argument_for(c.node, fn, name, is_method_call=True)
            if expr is not None and is_bn_model(c.module, project, expr, depth + 1):
                return True
    for c in project.call_sites(fn.name):
        if home is not None and isinstance(c.node.func, ast.Name) and not project.imports_name_from(c.module, fn.name, home):
            continue  # another sub-project's function of the same name
        expr, _ = argument_for(c.node, fn, name, is_method_call=isinstance(c.node.func, ast.Attribute))
        if expr is not None and is_bn_model(c.module, project, expr, depth + 1):
            return True
    return False


def instance_calls(project: Project, module: Module, cls: ast.ClassDef) -> list[CallSite]:
    """Calls of an instance of the project class ``cls`` (defined in ``module``), which run its
    ``__call__``: ``evaluator(model)`` where ``evaluator = Evaluator(...)`` in the same program, the
    name bound in the calling scope, an enclosing one, or passed in as a parameter from a call site
    that binds it (two levels)."""
    memo: dict = project.fact("keras.instance_calls.memo", lambda p: {})  # type: ignore[assignment]
    found = memo.get(id(cls))
    if found is None:
        program = project.import_component(module)
        found = memo[id(cls)] = [
            c for m in project.modules if id(m) in program for c in m.calls
            if isinstance(c.node.func, ast.Name) and c.node.func.id not in _toplevel_defs(m.tree)
            and _holds_instance(project, m, c.node.func, cls, 0)]
    return found


def _holds_instance(project: Project, module: Module, expr: ast.expr, cls: ast.ClassDef, depth: int) -> bool:
    """Is ``expr`` visibly an instance of ``cls``: a constructor call, a name bound to one, or a
    parameter of a module-level function that a call site passes one to?"""
    if depth > 2:
        return False
    if isinstance(expr, ast.Call):
        return resolve_def(project, module, expr.func) is cls
    if not isinstance(expr, ast.Name):
        return False
    scope = module.scope_of(expr)
    assigned = [a for a in _assignments(scope if scope is not None else module.tree, expr.id) if a is not None]
    while not assigned and scope is not None:
        _, _, is_param = _param_index(scope, expr.id)
        if is_param:
            home = next((fi for fi in project.functions(scope.name) if fi.node is scope), None)
            if home is None or home.cls is not None:
                return False
            return any(_holds_instance(project, c.module, arg, cls, depth + 1)
                       for c in project.call_sites(scope.name)
                       if resolve_def(project, c.module, c.node.func) is scope
                       for arg in [argument_for(c.node, scope, expr.id)[0]] if arg is not None)
        scope = module.scope_of(scope)
        assigned = [a for a in _assignments(scope if scope is not None else module.tree, expr.id) if a is not None]
    return any(isinstance(a, (ast.Call, ast.Name)) and _holds_instance(project, module, a, cls, depth + 1)
               for a in assigned)


def class_is_bn_model(project: Project, module: Module, cls: ast.ClassDef) -> bool:
    """Does this class (module-level or nested) build BN, itself or through its bases/sub-models?"""
    if id(cls) in bn_builders(project) or _live_bn_in(project, module, cls):
        return True
    if any(id(resolve_def(project, module, b) or b) in bn_builders(project) for b in cls.bases):
        return True
    return _functional_subclass_with_bn(project, module, cls)


def _functional_subclass_with_bn(project: Project, module: Module, cls: ast.ClassDef) -> bool:
    """A ``keras.Model`` subclass that only adds methods (``predict_step``, ``train_step``) and is
    built functionally, ``Custom(inputs, outputs)``, in a function (or module) that also builds a
    BatchNormalization: its layers are those of the graph it is handed, as for
    ``keras.Model(inputs, outputs)``."""
    if not any(keras_name(module.imports.resolve(b)) in ("keras.Model", "keras.models.Model") for b in cls.bases):
        return False
    for site in project.call_sites(cls.name):
        node = site.node
        functional = len(node.args) >= 2 or {"inputs", "outputs"} <= {k.arg for k in node.keywords}
        if not functional or resolve_def(project, site.module, node.func) is not cls:
            continue
        scope = site.module.scope_of(node)
        if _live_bn_in(project, site.module, scope if scope is not None else site.module.tree):
            return True
    return False


def frozen_names(project: Project, module: Module) -> frozenset[str]:
    """Last names of objects set ``X.trainable = False`` (deliberately frozen models) in the program
    ``module`` belongs to: the modules connected to it by project imports. Matching is by name only,
    so a ``self.model.trainable = False`` in an unrelated script of the same folder must not exempt
    every ``model(...)`` of the others (memoised per import component)."""
    memo: dict = project.fact("keras.frozen_names.memo", lambda p: {})  # type: ignore[assignment]
    component = project.import_component(module)
    names = memo.get(component)
    if names is None:
        names = memo[component] = frozenset().union(
            *(frozen_names_in(m) for m in project.modules if id(m) in component))
    return names


def frozen_names_in(module: Module) -> set[str]:
    """Last names of the objects ``module`` sets ``X.trainable = False`` (by name only: the same
    name in an unrelated script of the project says nothing about this one)."""
    out: set[str] = set()
    for obj in frozen_objects_in(module):
        d = dotted(obj)
        if d:
            out.add(d.rsplit(".", 1)[-1])
    return out


def frozen_objects_in(module: Module) -> list[ast.expr]:
    """The ``X`` of every ``X.trainable = False`` (or ``= not True``) in ``module``, whatever ``X``
    is (``layer``, ``model.layers[0]``)."""
    out: list[ast.expr] = []
    for n in module.nodes_of_kind.get(ast.Assign, ()):  # indexed by Module: no walk of every tree
        if _literal(n.value) is False:
            out.extend(t.value for t in n.targets if isinstance(t, ast.Attribute) and t.attr == "trainable")
    return out


# --------------------------------------------------------------------------------------------------
# training steps


@dataclass
class TrainingRegion:
    """Statements whose model calls produce the differentiated loss, and whose variables get gradients."""

    kind: str  # "tape" | "train_step" | "minimize" | "torch_loop"
    body: list[ast.AST]
    scope: Optional[FuncNode]
    roots: Optional[set[str]]  # dotted owners of the differentiated variables; None = unknown
    anchor: ast.AST = field(repr=False, default=None)

    def nodes(self) -> Iterator[ast.AST]:
        """Every node in the region, not descending into nested function definitions."""
        stack = list(reversed(self.body))
        while stack:
            n = stack.pop()
            yield n
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            stack.extend(reversed(list(ast.iter_child_nodes(n))))


def _is_gradient_tape(module: Module, expr: ast.AST) -> bool:
    if isinstance(expr, ast.Call):
        q = module.imports.resolve(expr.func) or ""
        return q.startswith("tensorflow") and q.endswith("GradientTape")
    if isinstance(expr, ast.Name):
        scope = module.scope_of(expr)
        owner = scope if scope is not None else module.tree
        return any(a is not None and _is_gradient_tape(module, a) for a in _assignments(owner, expr.id))
    return False


def gradient_roots(module: Module, sources: Optional[ast.expr], depth: int = 0) -> Optional[set[str]]:
    """``model.trainable_variables + head.trainable_weights`` -> {"model", "head"}; None if unknown."""
    if sources is None or depth > 4:
        return None
    accessor = _own_accessor(module, sources)
    if accessor is not None:
        # ``self.variables`` / ``self.get_trainable()`` defined by the class itself (a trainer's
        # ``@property`` returning ``backbone.trainable_variables + head.trainable_variables``)
        returns = [r.value for r in _returns_of(accessor)]
        if not returns or any(r is None for r in returns):
            return None
        out_roots: set[str] = set()
        for r in returns:
            got = gradient_roots(module, r, depth + 1)
            if got is None:
                return None
            out_roots |= got
        return out_roots
    if isinstance(sources, ast.Attribute) and sources.attr in GRAD_ATTRS:
        d = dotted(sources.value)
        return {d} if d else None
    if isinstance(sources, ast.Call) and isinstance(sources.func, ast.Attribute) \
            and sources.func.attr == "parameters" and not sources.args:
        # a Keras 3 model on the torch backend is a torch Module: torch.optim.Adam(model.parameters())
        d = dotted(sources.func.value)
        return {d} if d else None
    if isinstance(sources, (ast.ListComp, ast.GeneratorExp)) and len(sources.generators) == 1 \
            and isinstance(sources.elt, ast.Name) and isinstance(sources.generators[0].target, ast.Name) \
            and sources.elt.id == sources.generators[0].target.id:
        # [v for v in model.trainable_weights] (the Keras guide's torch-backend loop)
        return gradient_roots(module, sources.generators[0].iter, depth + 1)
    if isinstance(sources, ast.BinOp) and isinstance(sources.op, ast.Add):
        a, b = gradient_roots(module, sources.left, depth + 1), gradient_roots(module, sources.right, depth + 1)
        return a | b if a is not None and b is not None else None
    if isinstance(sources, (ast.List, ast.Tuple)):
        out: set[str] = set()
        for e in sources.elts:
            r = gradient_roots(module, e.value if isinstance(e, ast.Starred) else e, depth + 1)
            if r is None:
                return None
            out |= r
        return out
    if isinstance(sources, ast.Call) and isinstance(sources.func, ast.Name) and sources.func.id in ("list", "tuple") and len(sources.args) == 1:
        return gradient_roots(module, sources.args[0], depth + 1)
    if isinstance(sources, ast.Name):
        scope = module.scope_of(sources)
        owner = scope if scope is not None else module.tree
        assigned = _assignments(owner, sources.id)
        if not assigned or any(a is None for a in assigned):
            return None
        out = set()
        for a in assigned:
            r = gradient_roots(module, a, depth + 1)
            if r is None:
                return None
            out |= r
        return out
    return None


_PROPERTY_DECORATORS = {"property", "functools.cached_property", "cached_property"}


def _own_accessor(module: Module, expr: ast.expr) -> Optional[FuncNode]:
    """The method of the enclosing class that ``expr`` runs: ``self.name`` when ``name`` is a
    ``@property`` of that class, ``self.name()`` when it is a method taking no argument."""
    call = isinstance(expr, ast.Call)
    target = expr.func if call and not expr.args and not expr.keywords else expr  # type: ignore[union-attr]
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"):
        return None
    cls = module.enclosing_class(expr)
    if cls is None:
        return None
    for n in cls.body:
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == target.attr:
            is_property = any((dotted(d) or "") in _PROPERTY_DECORATORS for d in n.decorator_list)
            takes_nothing = len(n.args.args) == 1 and not (n.args.vararg or n.args.kwonlyargs or n.args.kwarg)
            return n if (is_property != call) and takes_nothing else None
    return None


def _returns_of(fn: FuncNode) -> list[ast.Return]:
    """The ``return`` statements of ``fn`` itself (not of nested functions)."""
    out, stack = [], list(fn.body)
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Return):
            out.append(n)
        elif not isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(n))
    return out


def _body_of(scope: Optional[FuncNode], module: Module) -> ast.AST:
    return scope if scope is not None else module.tree


def _tape_gradient_roots(module: Module, scope: Optional[FuncNode], tape_names: set[str],
                         block: Optional[ast.AST] = None) -> Optional[set[str]]:
    """Owners of the variables that ``tape.gradient`` differentiates for the tape(s) named
    ``tape_names``. With the ``with`` ``block`` given, a tape name reused by a later block of the
    same function (a GAN's discriminator step, then its generator step, both `as tape`) counts only
    the gradient calls between this block and the next one."""
    roots: set[str] = set()
    found = False
    calls = [n for n in _gradient_calls(_body_of(scope, module)) if n.func.value.id in tape_names]  # type: ignore[attr-defined]
    if block is not None:
        later = [w.lineno for w in module.blocks if isinstance(w, (ast.With, ast.AsyncWith)) and w.lineno > block.lineno
                 and module.scope_of(w) is scope and any(
                     isinstance(i.optional_vars, ast.Name) and i.optional_vars.id in tape_names for i in w.items)]
        end = min(later, default=None)
        window = [n for n in calls if n.lineno >= block.lineno and (end is None or n.lineno < end)]
        calls = window or calls
    for n in calls:
        src = kwarg(n, "sources") or (n.args[1] if len(n.args) > 1 else None)
        r = gradient_roots(module, src)
        if r is None:
            return None
        roots |= r
        found = True
    return roots if found else None


@per_node
def _gradient_calls(owner: ast.AST) -> list[ast.Call]:
    """``name.gradient(...)`` calls in ``owner``, in walk order (one walk per scope, not per tape)."""
    return [n for n in astwalk.walk(owner) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "gradient" and isinstance(n.func.value, ast.Name)]


@per_node
def _loss_definitions(owner: ast.AST) -> list[ast.AST]:
    """Function definitions and ``name = lambda ...`` assignments in ``owner``, in walk order."""
    return [d for d in astwalk.walk(owner) if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef))
            or (isinstance(d, ast.Assign) and isinstance(d.value, ast.Lambda))]


def training_regions(module: Module, project: Project) -> list[TrainingRegion]:
    def compute(_p):
        return _training_regions(module)
    return project.fact(("keras.regions", module.path), compute)


def _training_regions(module: Module) -> list[TrainingRegion]:
    regions: list[TrainingRegion] = []
    tape_withs: set[int] = set()
    # With statements come from the module index (in walk order); only a file that says
    # "minimize" needs the full walk for the minimize(...) calls, in the same order.
    candidates = astwalk.walk(module.tree) if module.mentions("minimize") else (
        b for b in module.blocks if isinstance(b, (ast.With, ast.AsyncWith)))
    for n in candidates:
        if isinstance(n, (ast.With, ast.AsyncWith)):
            tapes = [i for i in n.items if _is_gradient_tape(module, i.context_expr)]
            if not tapes:
                continue
            names = set()
            for i in tapes:
                if isinstance(i.optional_vars, ast.Name):
                    names.add(i.optional_vars.id)
                if isinstance(i.context_expr, ast.Name):
                    names.add(i.context_expr.id)
            scope = module.scope_of(n)
            roots = _tape_gradient_roots(module, scope, names, n) if names else None
            regions.append(TrainingRegion("tape", list(n.body), scope, roots, n))
            tape_withs.add(id(n))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr == "minimize" and n.args:
            loss = n.args[0]
            var_list = kwarg(n, "var_list") or (n.args[1] if len(n.args) > 1 else None)
            roots = gradient_roots(module, var_list)
            body: list[ast.AST] = []
            if isinstance(loss, ast.Lambda):
                body = [loss.body]
            elif isinstance(loss, ast.Name):
                owner = _body_of(module.scope_of(n), module)
                for d in _loss_definitions(owner):
                    if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and d.name == loss.id:
                        body = list(d.body)
                    elif isinstance(d, ast.Assign) and isinstance(d.value, ast.Lambda) and any(
                            isinstance(t, ast.Name) and t.id == loss.id for t in d.targets):
                        body = [d.value.body]
            if body:
                regions.append(TrainingRegion("minimize", body, module.scope_of(n), roots, n))
    for f in module.functions:
        if f.cls is not None and f.node.name == "train_step":
            has_tape = any(isinstance(x, (ast.With, ast.AsyncWith)) and id(x) in tape_withs for x in astwalk.walk(f.node))
            if has_tape:
                continue
            # No tape (torch backend: loss.backward(); or a plain forward): the model is `self`.
            text_calls = {c.func.attr for c in astwalk.walk(f.node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)}
            if text_calls & {"backward", "apply_gradients", "apply"}:
                regions.append(TrainingRegion("train_step", list(f.node.body), f.node, {"self"}, f.node))
    regions.extend(_torch_loop_regions(module))
    return regions


_LOOPS = (ast.For, ast.AsyncFor, ast.While)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _torch_loop_regions(module: Module) -> list[TrainingRegion]:
    """Keras 3 models trained by a hand-written PyTorch loop (``KERAS_BACKEND=torch``): the innermost
    loop (or function) around ``loss.backward()`` that also updates the model's variables — a
    torch optimizer built over ``model.parameters()`` / ``model.trainable_weights`` stepped there
    (``optimizer.step()``), or a Keras optimizer applied to them (``optimizer.apply(grads,
    model.trainable_weights)``). ``loss.backward()`` exists only on the torch backend. A Keras
    ``train_step`` override is a region of its own."""
    if not module.mentions("backward") or not module.imports.imports_any("torch"):
        return []
    out: list[TrainingRegion] = []
    seen: set[int] = set()
    for c in module.calls:
        if c.name != "backward" or not isinstance(c.node.func, ast.Attribute):
            continue
        if c.scope is not None and c.scope.name == "train_step" and module.enclosing_class(c.node) is not None:
            continue
        for container in module.ancestors(c.node):
            if not isinstance(container, _LOOPS + _FUNCS):
                continue
            if id(container) in seen:
                break
            roots = _torch_update_roots(module, container)
            if roots:
                seen.add(id(container))
                scope = container if isinstance(container, _FUNCS) else module.scope_of(container)
                out.append(TrainingRegion("torch_loop", list(container.body), scope, roots, container))
                break
            if isinstance(container, _FUNCS):
                break
    return out


def _torch_update_roots(module: Module, container: ast.AST) -> Optional[set[str]]:
    """Owners of the variables an optimizer updates inside ``container`` (not in nested functions):
    ``opt.step()`` of a ``torch.optim`` optimizer, ``opt.apply(grads, variables)`` /
    ``opt.apply_gradients(zip(grads, variables))``. None when there is no such update or its
    variables are unknown."""
    roots: set[str] = set()
    stack = list(ast.iter_child_nodes(container))
    while stack:
        n = stack.pop()
        if isinstance(n, _FUNCS + (ast.ClassDef, ast.Lambda)):
            continue
        stack.extend(ast.iter_child_nodes(n))
        if not (isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)):
            continue
        got: Optional[set[str]] = None
        if n.func.attr == "step" and not n.args:
            got = _torch_optimizer_roots(module, n.func.value, container)
        elif n.func.attr == "apply" and len(n.args) == 2:
            got = gradient_roots(module, n.args[1])
        elif n.func.attr == "apply_gradients" and n.args and isinstance(n.args[0], ast.Call) \
                and isinstance(n.args[0].func, ast.Name) and n.args[0].func.id == "zip" and len(n.args[0].args) == 2:
            got = gradient_roots(module, n.args[0].args[1])
        if got is None:
            continue
        roots |= got
    return roots or None


def _roots_through_parameters(fn: FuncNode, roots: set[str], sites: list[tuple[ast.expr, ast.AST]]) -> Optional[set[str]]:
    """Map the callers' model names (``model`` in ``train_one_epoch(model, loader, opt)``) to the
    parameters of ``fn`` that receive them; None when one is not passed to ``fn``."""
    out: set[str] = set()
    for root in roots:
        mapped = None
        for _, site in sites:
            if not isinstance(site, ast.Call):
                return None
            for p in fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs:
                arg, explicit = argument_for(site, fn, p.arg)
                if explicit and dotted(arg) == root:
                    mapped = p.arg if mapped in (None, p.arg) else ""
        if not mapped:
            return None
        out.add(mapped)
    return out


def _torch_optimizer_roots(module: Module, opt: ast.expr, at: ast.AST, depth: int = 0) -> Optional[set[str]]:
    """``opt`` bound to ``torch.optim.X(model.parameters(), ...)`` (in the enclosing scopes, the
    module, ``self.opt = ...`` in the class, or passed by this module's calls of the function that
    takes it as a parameter): the owners of those parameters."""
    values: list[tuple[ast.expr, ast.AST]] = []  # (value, where it is bound)
    if isinstance(opt, ast.Name):
        scope = module.scope_of(at) if not isinstance(at, _FUNCS) else at
        while True:
            owner = scope if scope is not None else module.tree
            values = [(a, owner) for a in _assignments(owner, opt.id) if a is not None]
            if values or scope is None:
                break
            if _param_index(scope, opt.id)[2]:
                # train_one_epoch(model, loader, optimizer): what this module's calls of it pass
                if depth > 2:
                    return None
                for site in module.calls:
                    if site.name != scope.name or not isinstance(site.node.func, ast.Name):
                        continue
                    arg, explicit = argument_for(site.node, scope, opt.id)
                    if arg is not None and explicit:
                        values.append((arg, site.node))
                if not values:
                    return None
                roots: set[str] = set()
                for arg, site_node in values:
                    got = _torch_optimizer_roots(module, arg, site_node, depth + 1)
                    if got is None:
                        return None
                    roots |= got
                # the caller's names for the model: the root is the parameter the model arrives in
                return _roots_through_parameters(scope, roots, values)
            scope = module.scope_of(scope)
    elif isinstance(opt, ast.Attribute) and isinstance(opt.value, ast.Name) and opt.value.id == "self":
        values.extend((n.value, n) for n in self_attribute_stores(module, at, opt.attr))
    roots: set[str] = set()
    for v, _ in values:
        if not isinstance(v, ast.Call) or not (module.imports.resolve(v.func) or "").startswith("torch.optim."):
            return None
        params = kwarg(v, "params") or (v.args[0] if v.args else None)
        got = gradient_roots(module, params)
        if got is None:
            return None
        roots |= got
    return roots or None


def callee_dotted(call: ast.Call) -> Optional[str]:
    return dotted(call.func)


def model_expr(call: ast.Call) -> ast.expr:
    """The object a call runs: ``model`` for ``model(x)`` and for ``model.call(x)`` (the method
    called directly, which runs the same layers without ``__call__``'s training-mode handling)."""
    f = call.func
    return f.value if isinstance(f, ast.Attribute) and f.attr == "call" else f


def called_object(call: ast.Call) -> Optional[str]:
    """Dotted name of the object ``call`` runs (see ``model_expr``)."""
    return dotted(model_expr(call))


def region_model_calls(module: Module, project: Project, region: TrainingRegion) -> Iterator[tuple[ast.Call, str, Module, Optional[ast.Call]]]:
    """Calls ``obj(...)`` in the region whose object owns differentiated variables.

    Yields (call, object dotted name, module of the call, call site in the region when the call sits
    one level down in a project helper function). Helper parameters are mapped to the arguments of
    that call site.
    """
    if not region.roots:
        return
    for n in region.nodes():
        if not isinstance(n, ast.Call):
            continue
        d = called_object(n)
        if d not in region.roots:
            d = _compiled_model(module, n) or d
        if d in region.roots:
            yield n, d, module, None
            continue
        # one level into a project helper: compute_loss(model, x, training=False)
        helper = _helper_function(module, project, n)
        if helper is None:
            yield from _wrapper_layer_calls(module, project, region, n)
            continue
        hmod, hfn = helper
        for inner in astwalk.walk(hfn):
            if not isinstance(inner, ast.Call):
                continue
            idn = called_object(inner)
            if idn is None:
                continue
            head, _, rest = idn.partition(".")
            mapped: Optional[str] = None
            if head == "self" and isinstance(n.func, ast.Attribute) and dotted(n.func.value) == "self":
                mapped = idn
                if mapped not in region.roots and "self" in region.roots \
                        and not _under_stop_gradient(module, n) \
                        and _flag_threaded_to_own_sublayer(hmod, project, hfn, inner):
                    yield inner, mapped, hmod, n
                    continue
            else:
                arg, explicit = argument_for(n, hfn, head, is_method_call=isinstance(n.func, ast.Attribute))
                if arg is not None and explicit:
                    ad = dotted(arg)
                    mapped = (ad + ("." + rest if rest else "")) if ad else None
            if mapped in region.roots:
                yield inner, mapped, hmod, n


def _wrapper_layer_calls(module: Module, project: Project, region: TrainingRegion,
                         n: ast.Call) -> Iterator[tuple[ast.Call, str, Module, Optional[ast.Call]]]:
    """``self.model_with_loss(x, y)`` in the step, with ``self.model_with_loss = ModelWithLoss(model)``
    (a project class whose ``call`` runs ``self.model(x)``, ``self.model = model`` in its
    ``__init__``) and ``model`` the differentiated object: the wrapper's inner model calls, as calls
    of the differentiated object one level down (the wrapper's ``call`` is the helper)."""
    if not (isinstance(n.func, ast.Attribute) and dotted(n.func.value) == "self"):
        return
    stores = self_attribute_stores(module, n, n.func.attr)
    if len(stores) != 1 or not isinstance(stores[0].value, ast.Call):
        return
    ctor = stores[0].value
    cmod, cls = resolve_def_in(project, module, ctor.func)
    if cmod is None or not isinstance(cls, ast.ClassDef):
        return
    defs = {f.name: f for f in cls.body if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))}
    call_fn, init = defs.get("call"), defs.get("__init__")
    if call_fn is None or init is None:
        return
    owner = module.scope_of(stores[0])
    for inner in astwalk.walk(call_fn):
        if not isinstance(inner, ast.Call) or cmod.scope_of(inner) is not call_fn:
            continue
        idn = called_object(inner)
        head, _, rest = (idn or "").partition(".")
        if head != "self" or not rest or "." in rest:
            continue
        params = [a.value.id for a in self_attribute_stores(cmod, init, rest)
                  if isinstance(a.value, ast.Name) and cmod.scope_of(a) is init]
        if len(params) != 1:
            continue
        arg, explicit = argument_for(ctor, init, params[0], is_method_call=True)
        if arg is None or not explicit:
            continue
        names = {dotted(arg)}
        if isinstance(arg, ast.Name) and owner is not None:  # `self.model = model` beside `Wrapper(model)`
            names |= {dotted(t) for a in astwalk.walk(owner) if isinstance(a, ast.Assign)
                      and isinstance(a.value, ast.Name) and a.value.id == arg.id for t in a.targets}
        mapped = next((d for d in names if d in region.roots), None)
        if mapped is not None:
            yield inner, mapped, cmod, n


_TF_FUNCTION = ("tensorflow.function", "tf.function")


def _compiled_model(module: Module, call: ast.Call) -> Optional[str]:
    """``fast = tf.function(model)`` (or ``tf.function(model.call)``, ``tf.function(func=model)``),
    then ``fast(x)``: the wrapper runs ``model`` with the arguments it is given, so ``fast(x)``
    without ``training`` is ``model(x)`` without it. The dotted name of the wrapped model, if any."""
    if not isinstance(call.func, ast.Name):
        return None
    scope = module.scope_of(call)
    while True:
        owner: ast.AST = scope if scope is not None else module.tree
        values = _assignments(owner, call.func.id)
        if values or scope is None:
            break
        scope = module.scope_of(scope)
    if len(values) != 1 or not isinstance(values[0], ast.Call) or module.imports.resolve(values[0].func) not in _TF_FUNCTION:
        return None
    target = _tf_function_model(values[0])
    return dotted(target) if target is not None else None


def _tf_function_model(wrap: ast.Call) -> Optional[ast.expr]:
    """The model a ``tf.function(model)`` / ``tf.function(model.call)`` / ``tf.function(func=model)``
    call wraps; None for a lambda (``tf.function(lambda x: model(x, training=True))``: its body
    carries the flag) or nothing."""
    target = wrap.args[0] if wrap.args else kwarg(wrap, "func")
    if target is None or isinstance(target, ast.Lambda):
        return None
    if isinstance(target, ast.Attribute) and target.attr in ("call", "__call__"):
        target = target.value
    return target


_MODEL_BUILDERS = ("keras.Sequential", "keras.models.Sequential", "keras.Model", "keras.models.Model")


def _under_stop_gradient(module: Module, node: ast.AST) -> bool:
    """Is ``node`` inside ``tf.stop_gradient(...)`` (a target / teacher output: no gradient reaches
    the variables of what it runs)?"""
    return any(isinstance(a, ast.Call) and (dotted(a.func) or "").rsplit(".", 1)[-1] == "stop_gradient"
               for a in module.ancestors(node))


def _flag_threaded_to_own_sublayer(module: Module, project: Project, hfn: FuncNode, inner: ast.Call) -> bool:
    """In a ``self.`` method helper of a model whose own variables the step differentiates
    (``tape.gradient(loss, self.trainable_variables)``): does ``inner`` call a sublayer of that model
    (``self.backbone``, built in the class from scratch, with BN) with ``training=`` one of the
    helper's parameters? The sublayer's variables are the model's, and the helper's parameter is
    the switch the step sets (or leaves at its default) for it. A sublayer of unknown origin (handed
    in, loaded) or a pretrained application may be kept in inference mode on purpose."""
    target = model_expr(inner)
    if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name) and target.value.id == "self"):
        return False
    expr, known = training_arg(inner)
    if not (known and isinstance(expr, ast.Name) and _param_index(hfn, expr.id)[2] and not _assignments(hfn, expr.id)):
        return False
    cls = module.enclosing_class(hfn)
    if cls is None or not own_scratch_sublayer(module, project, cls, target.attr):
        return False
    return is_bn_model(module, project, target)


def own_scratch_sublayer(module: Module, project: Project, cls: ast.ClassDef, attr: str) -> bool:
    """Is ``self.<attr>`` a sublayer ``cls`` builds itself from scratch (a Keras layer, a Sequential or
    functional model, a project class or factory; a Keras application only with ``weights=None``)?
    Its variables are the model's own. Not one handed in, loaded, or pretrained (that may be kept in
    inference mode on purpose)."""
    built = [n.value for n in astwalk.walk(cls) if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Attribute) and t.attr == attr and dotted(t.value) == "self" for t in n.targets)]
    if not built:
        return False
    for value in built:
        if not isinstance(value, ast.Call):
            return False
        q = module.imports.resolve(value.func)
        k = keras_name(q) or ""
        if ".applications." in k:
            weights = kwarg(value, "weights")
            vals = constant_values(module, project, weights)
            if weights is None or vals is None or any(vals):
                return False  # ImageNet weights by default
        elif not (k.startswith("keras.layers.") or k in _MODEL_BUILDERS
                  or resolve_def(project, module, value.func) is not None):
            return False  # loaded or built by code we cannot see
    return True


def _helper_function(module: Module, project: Project, call: ast.Call) -> Optional[tuple[Module, FuncNode]]:
    f = call.func
    if isinstance(f, ast.Name):
        # the function that name means here: a def of an enclosing function (a closure helper), the
        # module's own or an imported one; else one of that name in this program (another script's
        # same-named ``forward`` is not the one this call runs)
        chain = {id(a) for a in module.ancestors(call) if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef))}
        cands = [fi for fi in project.functions(f.id) if fi.module is module and id(module.scope_of(fi.node)) in chain]
        if not cands:
            dm, d = resolve_def_in(project, module, f)
            if isinstance(d, (ast.FunctionDef, ast.AsyncFunctionDef)) and dm is not None:
                cands = [fi for fi in project.functions(f.id) if fi.node is d]
            elif d is None:
                program = project.import_component(module)
                cands = [fi for fi in project.functions(f.id) if fi.cls is None and id(fi.module) in program]
    elif isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self":
        cls = module.enclosing_class(call)
        cands = [fi for fi in project.functions(f.attr) if cls is not None and fi.cls is cls]
    else:
        return None
    if len(cands) != 1 or cands[0].node.name in ("call", "__call__", "train_step"):
        return None
    return cands[0].module, cands[0].node


def training_arg(call: ast.Call) -> tuple[Optional[ast.expr], bool]:
    """(``training`` expression, known): a second positional argument counts as ``training``."""
    v = kwarg(call, "training")
    if v is not None:
        return v, True
    if has_kwargs_splat(call) or any(isinstance(a, ast.Starred) for a in call.args):
        return None, False
    if len(call.args) >= 2:
        return call.args[1], True
    return None, True


def iter_functions(node: ast.AST) -> Iterable[FuncNode]:
    for n in astwalk.walk(node):
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield n


def comments_at(module: Module, node: ast.AST) -> str:
    """The comment on ``node``'s line and the comment block right above it."""
    lines = module.lines
    line = getattr(node, "lineno", 0)
    if not 0 < line <= len(lines):
        return ""
    texts = [lines[line - 1].partition("#")[2]]
    j = line - 2
    while j >= 0 and lines[j].strip().startswith("#") and line - 1 - j <= 4:
        texts.append(lines[j])
        j -= 1
    return " ".join(texts)
