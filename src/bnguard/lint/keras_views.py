"""Keras "view" models: ``keras.Model(net.input, net.get_layer("embedding").output)`` builds a second
functional model over the *same* layers as ``net`` (no new variables). Calling the view runs the
shared BatchNormalization layers, in the mode the view is called with.

Used by BN202: a training step that differentiates ``net``'s variables but runs its layers through a
view called without ``training`` trains them with BN in inference mode."""
from __future__ import annotations

import ast
from typing import Optional

from bnguard.lint import keras_facts as kf
from bnguard.lint.project import Module

# ``net.input`` / ``net.inputs`` (also ``net.inputs[0]``) as the view's inputs.
_INPUT_ATTRS = frozenset({"input", "inputs"})
# What a view's outputs read from the base model's graph.
_OUTPUT_ATTRS = frozenset({"output", "outputs", "get_layer", "layers"})
_MODEL_CLASSES = frozenset({"keras.Model", "keras.models.Model"})

Identity = tuple  # (id of the scope node, name): one binding of a model in one function


def view_base(module: Module, call: ast.Call) -> Optional[ast.expr]:
    """``net`` for ``keras.Model(net.input, net.get_layer(...).output)`` (any Keras spelling,
    ``inputs=`` / ``outputs=`` keywords, a list of outputs): a model whose inputs are the base's inputs
    and whose every output is read from the base's graph. None for anything else."""
    if kf.keras_name(module.imports.resolve(call.func)) not in _MODEL_CLASSES:
        return None
    ins = kf.kwarg(call, "inputs") or (call.args[0] if call.args else None)
    outs = kf.kwarg(call, "outputs") or (call.args[1] if len(call.args) > 1 else None)
    if ins is None or outs is None:
        return None
    while isinstance(ins, ast.Subscript):
        ins = ins.value
    if not (isinstance(ins, ast.Attribute) and ins.attr in _INPUT_ATTRS):
        return None
    base = ins.value
    shown = ast.unparse(base)
    elts = outs.elts if isinstance(outs, (ast.List, ast.Tuple)) else [outs]
    for e in elts:
        if not _reads_graph_of(e, shown):
            return None
    return base


def view_holders(module: Module, project) -> frozenset:
    """The last names (``embedder`` of ``self.embedder``) the module assigns a view model to (memoised)."""
    def compute(_p):
        out = set()
        for c in module.calls:
            if c.name not in ("Model",):
                continue
            parent = module.parent(c.node)
            if isinstance(parent, ast.Assign) and parent.value is c.node and view_base(module, c.node) is not None:
                for t in parent.targets:
                    if isinstance(t, ast.Name):
                        out.add(t.id)
                    elif isinstance(t, ast.Attribute):
                        out.add(t.attr)
        return frozenset(out)
    return project.fact(("keras.view_holders", module.path), compute)


def _reads_graph_of(expr: ast.expr, shown: str) -> bool:
    """``net.get_layer("x").output`` / ``net.layers[-2].output`` / ``net.output``: a layer output read
    through an access chain whose root is ``shown``."""
    while isinstance(expr, ast.Subscript):
        expr = expr.value  # ``net.get_layer("x").output[0]``
    if not (isinstance(expr, ast.Attribute) and expr.attr in ("output", "outputs")):
        return False
    node: ast.AST = expr
    while True:
        if isinstance(node, ast.Attribute):
            if ast.unparse(node.value) == shown:
                return node.attr in _OUTPUT_ATTRS
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        else:
            return False


def binding(module: Module, expr: ast.expr, at: ast.AST) -> Optional[tuple[ast.expr, ast.AST]]:
    """The single value (and the node it was assigned at) ``expr`` holds at ``at``: a name bound once
    in its scope (or the enclosing ones), ``self.x`` assigned once in the class (besides None)."""
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        stores = [s for s in kf.self_attribute_stores(module, at, expr.attr)
                  if not (isinstance(s.value, ast.Constant) and s.value.value is None)]
        if len(stores) != 1 or len(stores[0].targets) != 1:
            return None
        return stores[0].value, stores[0]
    if isinstance(expr, ast.Name):
        scope = module.scope_of(at)
        while True:
            assigned = kf._assignments(scope if scope is not None else module.tree, expr.id)
            if assigned:
                if len(assigned) != 1 or assigned[0] is None:
                    return None
                return assigned[0], assigned[0]
            if scope is None or kf._param_index(scope, expr.id)[2]:
                return None
            scope = module.scope_of(scope)
    return None


def identity(module: Module, expr: ast.expr, at: ast.AST, depth: int = 0) -> Optional[Identity]:
    """Which binding of a model ``expr`` (seen at ``at``) denotes: followed through names and
    ``self.`` attributes that only hold another name (``self.net = net``) to a function parameter or
    a name bound to a call; None when unknown."""
    if depth > 4:
        return None
    if isinstance(expr, ast.Name):
        scope = module.scope_of(at)
        while scope is not None:
            if kf._param_index(scope, expr.id)[2] and not kf._assignments(scope, expr.id):
                return (id(scope), expr.id)
            if kf._assignments(scope, expr.id):
                break
            scope = module.scope_of(scope)
    got = binding(module, expr, at)
    if got is None:
        return None
    value, where = got
    if isinstance(value, (ast.Name, ast.Attribute)) and not (
            isinstance(value, ast.Attribute) and not (isinstance(value.value, ast.Name) and value.value.id == "self")):
        return identity(module, value, where, depth + 1)
    if isinstance(value, ast.Call) and isinstance(expr, ast.Name):
        scope = module.scope_of(where)
        return (id(scope) if scope is not None else id(module.tree), expr.id)
    if isinstance(value, ast.Call):
        cls = module.enclosing_class(where)
        return (id(cls), ast.unparse(expr))
    return None


def source_identities(module: Module, sources: Optional[ast.expr], at: ast.AST, depth: int = 0) -> Optional[set]:
    """The model bindings whose variables ``sources`` (a ``tape.gradient`` source list) names:
    ``net.trainable_variables``, a name or ``self.x`` holding that, sums and lists of them."""
    if sources is None or depth > 4:
        return None
    if isinstance(sources, ast.Attribute) and sources.attr in kf.GRAD_ATTRS:
        if isinstance(sources.value, ast.Name) and sources.value.id == "self":
            got = binding(module, sources, at)  # ``self.variables = net.trainable_variables``
            if got is not None:
                return source_identities(module, got[0], got[1], depth + 1)
        i = identity(module, sources.value, at)
        return {i} if i is not None else None
    if isinstance(sources, ast.BinOp) and isinstance(sources.op, ast.Add):
        a = source_identities(module, sources.left, at, depth + 1)
        b = source_identities(module, sources.right, at, depth + 1)
        return a | b if a is not None and b is not None else None
    if isinstance(sources, (ast.List, ast.Tuple)):
        out: set = set()
        for e in sources.elts:
            r = source_identities(module, e.value if isinstance(e, ast.Starred) else e, at, depth + 1)
            if r is None:
                return None
            out |= r
        return out
    if isinstance(sources, (ast.Name, ast.Attribute)):
        got = binding(module, sources, at)
        if got is not None:
            return source_identities(module, got[0], got[1], depth + 1)
    return None
