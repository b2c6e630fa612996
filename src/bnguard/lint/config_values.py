"""Constants read from configuration: hyper-parameter dicts and module / dataclass fields.

Ported models keep BN settings in configuration rather than in the layer call:
``BatchNorm2d(c, momentum=hp["bn_momentum"])`` with ``hp`` a dict display handed down by the callers,
or ``momentum=self.bn_momentum`` read from a field with a default. ``constant_values`` resolves what
``keras_facts.constant_values`` does plus these two spellings, and stays unknown (None) whenever any
source could give another value (the key written or the dict updated anywhere, a caller passing
something else, the class subclassed or built out of sight).
"""
from __future__ import annotations

import ast
from typing import Optional

from bnguard.lint import astwalk
from bnguard.lint import keras_facts as kf
from bnguard.lint.project import Module, Project


def constant_values(module: Module, project: Project, expr: ast.expr) -> Optional[set]:
    """Constant values of a setting (a momentum, an epsilon): what ``kf.constant_values`` resolves, plus two
    spellings ported models use a lot — ``self.bn_momentum`` read from a module/dataclass field with
    a default (``bn_momentum: float = 0.1``), and ``hp["bn_momentum"]`` read from a hyper-parameter
    dict passed in by the callers. None when any value is unknown."""
    vals = kf.constant_values(module, project, expr)
    if vals:
        return vals
    if isinstance(expr, ast.Subscript) and isinstance(expr.value, ast.Name):
        key = expr.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found = _dict_key_values(module, project, expr.value, key.value)
            if found:
                return found
    if isinstance(expr, ast.Subscript):
        # ``BN_KWARGS["momentum"]`` of a ``dict(momentum=0.1)`` call, a copied or splatted dict
        from bnguard.lint import values as v

        vals = v.possible_values(expr, module, project)
        if v.is_constant_set(vals):
            return set(vals)  # type: ignore[arg-type]
    return None


def _dict_key_values(module: Module, project: Project, base: ast.Name, key: str) -> Optional[set]:
    """``hp["bn_momentum"]`` where ``hp`` is a dict display bound in the scope or at module level, or
    a parameter whose every caller passes such a dict (by name or literally). Unknown when any
    caller passes something else, or the project writes that key or calls ``update`` anywhere."""
    for m in project.modules:
        for n in m.nodes_of_kind.get(ast.Assign, ()):
            for t in n.targets:
                if isinstance(t, ast.Subscript) and isinstance(t.slice, ast.Constant) and t.slice.value == key:
                    return None
    exprs = _dict_sources(module, project, base)
    if not exprs:
        return None
    out: set = set()
    for d, m in exprs:
        if _updated(d, m, project):
            return None
        value = next((v for k, v in zip(d.keys, d.values) if isinstance(k, ast.Constant) and k.value == key), None)
        if value is None:
            return None
        vals = kf.constant_values(m, project, value)
        if not vals:
            return None
        out |= vals
    return out


def _updated(d: ast.Dict, m: Module, project: Project) -> bool:
    """Is the name bound to this dict display mutated with ``.update(...)`` anywhere?"""
    parent = m.parent(d)
    names = {t.id for t in getattr(parent, "targets", []) if isinstance(t, ast.Name)}
    return any(isinstance(c.node.func, ast.Attribute) and isinstance(c.node.func.value, ast.Name)
               and c.node.func.value.id in names for c in project.call_sites("update"))


def _module_dict(name: str, m: Module) -> Optional[ast.Dict]:
    """The dict display bound once to ``name`` at module level of ``m``."""
    found = [n.value for n in m.tree.body if isinstance(n, ast.Assign)
             and any(isinstance(t, ast.Name) and t.id == name for t in n.targets)]
    return found[0] if len(found) == 1 and isinstance(found[0], ast.Dict) else None


def _dict_sources(module: Module, project: Project, base: ast.Name,
                  depth: int = 0) -> Optional[list[tuple[ast.Dict, Module]]]:
    """The dict displays ``base`` can be: bound in its scope or at module level, or passed by every
    caller of the enclosing function (followed through a few levels of ``hp`` parameters)."""
    if depth > 3:
        return None
    scope = module.scope_of(base)
    if scope is None or isinstance(scope, ast.Lambda):
        d = _module_dict(base.id, module)
        return [(d, module)] if d is not None else None
    if any(isinstance(n, ast.Name) and n.id == base.id and not isinstance(n.ctx, ast.Load) for n in astwalk.walk(scope)):
        local = [n.value for n in astwalk.walk(scope) if isinstance(n, ast.Assign)
                 and any(isinstance(t, ast.Name) and t.id == base.id for t in n.targets)]
        return [(local[0], module)] if len(local) == 1 and isinstance(local[0], ast.Dict) else None
    params = [a.arg for a in scope.args.posonlyargs + scope.args.args]
    all_params = params + [a.arg for a in scope.args.kwonlyargs]
    if base.id not in all_params and not any(isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                                             for f in module.ancestors(scope)):
        d = _module_dict(base.id, module)  # a module-level dict read inside a function
        return [(d, module)] if d is not None else None
    if base.id not in params or scope.decorator_list or module.enclosing_class(scope) is not None:
        return None
    position = params.index(base.id)
    out: list[tuple[ast.Dict, Module]] = []
    for c in project.call_sites(scope.name):
        m, call = c.module, c.node
        if not isinstance(call.func, ast.Name):
            return None
        if m is not module and not m.imports.aliases.get(scope.name, "").endswith("." + scope.name):
            continue
        if any(kw.arg is None for kw in call.keywords) or any(isinstance(a, ast.Starred) for a in call.args):
            return None
        arg = next((kw.value for kw in call.keywords if kw.arg == base.id), None)
        if arg is None and len(call.args) > position:
            arg = call.args[position]
        if isinstance(arg, ast.Name):
            inner = _dict_sources(m, project, arg, depth + 1)
            if not inner:
                return None
            out.extend(inner)
        elif isinstance(arg, ast.Dict):
            out.append((arg, m))
        else:
            return None
    return out or None


def declared_defaults(module: Module, project: Project, expr: ast.expr, depth: int = 0) -> Optional[set]:
    """The values a setting has as its author declared them, when the code that could say otherwise
    cannot be seen: a parameter default (``def __init__(self, c, momentum=0.9)``) handed down a chain of
    constructors whose top is built as ``encoder_cls(**config)`` or looked up in a registry (the
    default and whatever the visible callers pass explicitly), or a command-line option read as
    ``args.bn_momentum`` (its ``add_argument(..., default=0.99)``). None when the parameter is rebound
    in the body, or any default or explicit argument is not a constant."""
    from bnguard.lint import values as v

    if depth > 4:
        return None
    if isinstance(expr, ast.Attribute) and v._is_options_receiver(expr.value, module, project):
        decls = v.command_line_options(project).get(expr.attr) or []
        # the script's own declaration when it has one: other scripts of the project parse their own
        decls = [d for d in decls if d.module is module] or decls
        out: set = set()
        for d in decls or ():
            vals = kf.constant_values(d.module, project, d.default) if d.default is not None else None
            if not vals:
                return None
            out |= vals
        return out or None
    if not isinstance(expr, ast.Name):
        return None
    fn = module.scope_of(expr)
    info = next((fi for fi in module.functions if fi.node is fn), None) if fn is not None else None
    if info is None:
        return None
    spec = v._param_spec(fn, expr.id)
    if spec is None:
        return None
    if any(isinstance(t, ast.Name) and t.id == expr.id and isinstance(t.ctx, ast.Store) for t in astwalk.walk(fn)):
        return None
    position, default = spec
    out = set()
    if default is not None:
        vals = kf.constant_values(module, project, default)
        if not vals:
            return None
        out |= vals
    is_method = info.cls is not None and not any(
        isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    own = info.cls.name if info.cls is not None and info.name == "__init__" else info.name
    for call, cm, offset, _partial in v.resolver(project)._call_sites(info, is_method):
        if cm is not module and any(c.name == own for c in cm.classes):
            continue  # another script's class of the same name
        arg = v._argument(call, expr.id, position, offset)
        if arg is None or arg is v._OPAQUE:
            continue  # the default (a call omitting a required one fails), or arguments out of sight
        vals = kf.constant_values(cm, project, arg) or declared_defaults(cm, project, arg, depth + 1)
        if not vals:
            return None
        out |= vals
    return out or None
