"""Project facts: the analysed paths form one project.

Each module is parsed once and indexed in one walk (parents, enclosing function, calls with their
canonical callee, function and class definitions). The project then indexes functions and call
sites by name across all modules, so a rule can ask "who calls ``net`` and with which
``is_training``?" or "does anything in the project feed this placeholder?" without re-walking.
"""
from __future__ import annotations

import ast
import functools
import os
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Optional, Union

from bnguard.lint import astwalk
from bnguard.lint.imports import ImportMap, dotted
from bnguard.lint.memo import per_node
from bnguard.lint.source import SourceUnit

FuncNode = Union[ast.FunctionDef, ast.AsyncFunctionDef]
SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
# Contexts and operators: one shared instance per kind in every tree (``ast.Load()``, ``ast.Add()``),
# so they have no parent of their own and nothing to index; a third of all nodes, skipped.
SHARED_LEAVES = frozenset(
    t for base in (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop) for t in base.__subclasses__())
BLOCK_KINDS = frozenset({ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith})
INDEXED_KINDS = frozenset({ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Dict, ast.DictComp, ast.List,
                           ast.Tuple, ast.Set})


@dataclass
class CallSite:
    node: ast.Call
    module: "Module"
    qualname: Optional[str]  # canonical callee for imported APIs (``tensorflow.layers.batch_normalization``)
    name: Optional[str]  # last component of the callee expression: ``net`` for ``net(...)`` / ``self.net(...)``
    scope: Optional[FuncNode]  # innermost enclosing function, None at module level


@dataclass
class FunctionInfo:
    node: FuncNode
    module: "Module"
    cls: Optional[ast.ClassDef]  # enclosing class for methods

    @property
    def name(self) -> str:
        return self.node.name

    @property
    def qualname(self) -> str:
        return f"{self.cls.name}.{self.node.name}" if self.cls else self.node.name


class Module:
    """One parsed source unit plus its one-walk index."""

    def __init__(self, unit: SourceUnit, tree: ast.Module):
        self.unit = unit
        self.path = unit.path
        self.tree = tree
        self.imports = ImportMap()
        self.parents: dict[ast.AST, ast.AST] = {}
        self.calls: list[CallSite] = []
        self.functions: list[FunctionInfo] = []
        self.classes: list[ast.ClassDef] = []
        # Loads of a name that are not the callee of a call (``f`` in ``map(f, xs)``, ``obj.f`` in
        # ``cb=obj.f``), keyed by the last name: a function referenced this way escapes, so its
        # parameters can take values no call site shows.
        self.references: dict[str, list[ast.AST]] = defaultdict(list)
        # Nodes of a few kinds that project-wide indexes (values.py) need, collected in the same
        # walk so that no index re-walks every tree: assignments, dict/list/tuple/set displays.
        self.nodes_of_kind: dict[type, list[ast.AST]] = defaultdict(list)
        # Assign and AnnAssign nodes together, in ``ast.walk`` order.
        self.assignments: list[ast.AST] = []
        # Compound statements that open a region (function definitions, loops, ifs, withs), in
        # ``ast.walk`` order: what rules looking for evaluation / training blocks iterate over.
        self.blocks: list[ast.AST] = []
        self._scope_of: dict[ast.AST, Optional[FuncNode]] = {}
        self._mentions: dict[str, bool] = {}
        self._index()

    def mentions(self, word: str) -> bool:
        """Does the source text contain ``word``? Memoised: rules ask per statement, and a search
        of a large file's text costs more than the statement's own checks."""
        try:
            return self._mentions[word]
        except KeyError:
            found = self._mentions[word] = word in self.unit.text
            return found

    def line_ref(self, line: int) -> str:
        """How a message names a line of this module: ``line 12``, or ``cell 3, line 4`` in a
        notebook (cells 1-based, as in the finding's own location)."""
        cell, cell_line = self.unit.locate(line)
        return f"line {cell_line}" if cell is None else f"cell {cell + 1}, line {cell_line}"

    def where(self, line: int) -> str:
        """``path:line`` (``path:cell:line`` in a notebook), the form of a finding's location."""
        cell, cell_line = self.unit.locate(line)
        return f"{self.path}:{cell_line}" if cell is None else f"{self.path}:{cell + 1}:{cell_line}"

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.unit.text.splitlines()

    @functools.cached_property
    def module_name(self) -> str:
        """Dotted module name guessed from the path (``pkg/model.py`` -> ``pkg.model``)."""
        p = self.path[:-3] if self.path.endswith(".py") else self.path.rsplit(".", 1)[0]
        p = p.replace("\\", "/").lstrip("./")
        parts = [x for x in p.split("/") if x and x != "__init__"]
        return ".".join(parts)

    def _index(self) -> None:
        # One breadth-first pass over the tree (the order of ``ast.walk``, which the import map's
        # "last binding wins" relies on) recording parents, the innermost function and class, calls,
        # definitions and the nodes the import map needs. Children are read from ``_fields``
        # directly: ``ast.iter_child_nodes`` costs two generator frames per node. The bound names
        # of the import map are recorded inline (as ``ImportMap.add`` does) to save a call per name.
        imports = self.imports
        bound = imports.bound_names
        parents = self.parents
        references = self.references
        kinds = self.nodes_of_kind
        pending: list[tuple[ast.Call, ast.AST, Optional[str], Optional[FuncNode]]] = []
        callee_ids: set[int] = set()
        AST, Name, Attribute, Call, Store, Load = ast.AST, ast.Name, ast.Attribute, ast.Call, ast.Store, ast.Load
        FunctionDef, AsyncFunctionDef, ClassDef = ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef
        Assign, AnnAssign, arg, Import, ImportFrom = ast.Assign, ast.AnnAssign, ast.arg, ast.Import, ast.ImportFrom
        assignments = self.assignments
        blocks = self.blocks
        queue: deque = deque([(self.tree, None, None)])
        pop, push = queue.popleft, queue.append
        while queue:
            node, scope, cls = pop()
            child_scope, child_cls = scope, cls
            t = type(node)
            if t is Name:
                if type(node.ctx) is Store:
                    bound.add(node.id)
                elif type(node.ctx) is Load and id(node) not in callee_ids:
                    references[node.id].append(node)
            elif t is Attribute:
                if type(node.ctx) is Load and id(node) not in callee_ids:
                    references[node.attr].append(node)
            elif t is Call:
                func = node.func
                tf = type(func)
                name = func.attr if tf is Attribute else func.id if tf is Name else None
                pending.append((node, func, name, scope))
                callee_ids.add(id(func))
            elif t is FunctionDef or t is AsyncFunctionDef:
                self.functions.append(FunctionInfo(node, self, cls if scope is None or cls else None))
                blocks.append(node)
                child_scope, child_cls = node, None
                bound.add(node.name)
            elif t is ClassDef:
                self.classes.append(node)
                child_cls = node
                bound.add(node.name)
            elif t is arg:
                bound.add(node.arg)
            elif t is Import or t is ImportFrom:
                imports.add(node)
            elif t in BLOCK_KINDS:
                blocks.append(node)
            elif t in INDEXED_KINDS:
                kinds[t].append(node)
                if t is Assign:
                    imports.add(node)
                    assignments.append(node)
                elif t is AnnAssign:
                    assignments.append(node)
            for field_name in node._fields:
                v = getattr(node, field_name, None)
                if isinstance(v, AST):
                    if type(v) in SHARED_LEAVES:
                        continue
                    parents[v] = node
                    push((v, child_scope, child_cls))
                elif type(v) is list:
                    for item in v:
                        if isinstance(item, AST):
                            if type(item) in SHARED_LEAVES:
                                continue
                            parents[item] = node
                            push((item, child_scope, child_cls))
        imports.finish()
        resolve = imports.resolve
        self.calls = [CallSite(node, self, resolve(func), name, scope) for node, func, name, scope in pending]
        self.calls.sort(key=lambda c: (c.node.lineno, c.node.col_offset))

    # --- navigation -----------------------------------------------------------------------------
    def parent(self, node: ast.AST) -> Optional[ast.AST]:
        return self.parents.get(node)

    def ancestors(self, node: ast.AST) -> Iterator[ast.AST]:
        p = self.parents.get(node)
        while p is not None:
            yield p
            p = self.parents.get(p)

    def statement_of(self, node: ast.AST) -> Optional[ast.stmt]:
        """The statement holding ``node`` (``node`` itself when it is one)."""
        while node is not None and not isinstance(node, ast.stmt):
            node = self.parents.get(node)
        return node

    def bound_name(self, value: ast.AST) -> Optional[str]:
        """The name a single-target assignment binds ``value`` to: ``base`` for ``base = f(...)``,
        ``backbone`` for ``self.backbone = f(...)``; None otherwise."""
        parent = self.parents.get(value)
        if isinstance(parent, ast.Assign) and parent.value is value and len(parent.targets) == 1:
            t = parent.targets[0]
            if isinstance(t, ast.Name):
                return t.id
            if isinstance(t, ast.Attribute):
                return t.attr
        return None

    def ancestors_until(self, node: ast.AST, stop: ast.AST) -> Iterator[ast.AST]:
        """The ancestors of ``node`` below ``stop`` (``stop`` itself excluded)."""
        for a in self.ancestors(node):
            if a is stop:
                return
            yield a

    def scope_of(self, node: ast.AST) -> Optional[FuncNode]:
        """Innermost enclosing function of ``node`` (None at module level). Found through the
        parents on demand: recording it for every node in the index walk cost more than all the
        questions asked."""
        try:
            return self._scope_of[node]
        except KeyError:
            pass
        scope = None
        p = self.parents.get(node)
        while p is not None:
            if type(p) is ast.FunctionDef or type(p) is ast.AsyncFunctionDef:
                scope = p
                break
            p = self.parents.get(p)
        self._scope_of[node] = scope
        return scope

    def enclosing_class(self, node: ast.AST) -> Optional[ast.ClassDef]:
        for a in self.ancestors(node):
            if isinstance(a, ast.ClassDef):
                return a
        return None

    def qualname(self, node: ast.AST) -> Optional[str]:
        return self.imports.resolve(node)

    def calls_to(self, *qualnames: str, suffix: bool = False) -> Iterator[CallSite]:
        """Call sites whose canonical callee is one of ``qualnames`` (or ends with one, if ``suffix``)."""
        wanted = set(qualnames)
        for c in self.calls:
            q = c.qualname
            if q is None:
                continue
            if q in wanted or (suffix and any(q.endswith("." + w) or q == w for w in wanted)):
                yield c

    def source_segment(self, node: ast.AST) -> str:
        return ast.get_source_segment(self.unit.text, node) or ""


def _path_parts(path: str) -> list[str]:
    return [x for x in path.replace("\\", "/").split("/") if x and x != "."]


def _import_root(m: Module, depth: int) -> tuple[str, ...]:
    """The directory from which ``m`` is importable under a dotted name of ``depth`` components
    (``a/b/pkg/mod.py`` as ``pkg.mod`` -> ``a/b``)."""
    parts = _path_parts(m.path)
    if parts and parts[-1] in ("__init__.py", "__init__.pyi"):
        parts = parts[:-1]
    else:
        parts = parts[:-1] + ["<module>"]
    return tuple(parts[:-depth]) if depth <= len(parts) else ()


def _nearest_import_root(candidates: list[Module], depth: int, importer: Module) -> Optional[Module]:
    """Among same-named modules, the one whose import root is the importer's directory or, failing
    that, its nearest ancestor; None when two candidates are equally near (or none is on the
    importer's path)."""
    here = tuple(_path_parts(importer.path)[:-1])
    best: list[Module] = []
    best_len = -1
    for c in candidates:
        root = _import_root(c, depth)
        if c is importer or here[:len(root)] != root:
            continue
        if len(root) > best_len:
            best, best_len = [c], len(root)
        elif len(root) == best_len:
            best.append(c)
    return best[0] if len(best) == 1 else None


@dataclass
class Project:
    """All analysed modules and cross-module indexes."""

    modules: list[Module] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.functions_by_name: dict[str, list[FunctionInfo]] = defaultdict(list)
        self.calls_by_name: dict[str, list[CallSite]] = defaultdict(list)
        self.calls_by_qualname: dict[str, list[CallSite]] = defaultdict(list)
        self.classes_by_name: dict[str, list[tuple[ast.ClassDef, Module]]] = defaultdict(list)
        # Free-form cache for project-wide facts computed by rule families (computed once, shared).
        self.facts: dict[str, object] = {}
        for m in self.modules:
            self._add(m)

    def _add(self, m: Module) -> None:
        for f in m.functions:
            self.functions_by_name[f.name].append(f)
        for k in m.classes:
            self.classes_by_name[k.name].append((k, m))
        for c in m.calls:
            if c.name:
                self.calls_by_name[c.name].append(c)
            if c.qualname:
                self.calls_by_qualname[c.qualname].append(c)

    def relative_path(self, module: Module) -> str:
        """``module``'s path below the directory that holds every analysed file, with ``/``: what
        the project itself names it. Folder names above the project (``/home/me/adaptation/...``)
        must not change a verdict, nor whether the tree was given as ``.`` or as an absolute path."""
        root = self.facts.get("project.root")
        if root is None:
            dirs = [os.path.dirname(os.path.abspath(m.path)) for m in self.modules] or [os.getcwd()]
            try:
                root = os.path.commonpath(dirs)
            except ValueError:  # paths on different drives
                root = ""
            self.facts["project.root"] = root
        path = os.path.abspath(module.path)
        rel = os.path.relpath(path, root) if root else path  # type: ignore[arg-type]
        return rel.replace("\\", "/")

    def imports_name_from(self, module: Module, name: str, target: Module) -> bool:
        """Can the name ``name`` used in ``module`` be the one defined in ``target``? False only when
        ``module`` imports ``name`` from a project module that is another one: in a monorepo whose
        sub-projects share a layout, ``projB/main.py``'s ``from runtime.run import train`` is
        ``projB/runtime/run.py``, never ``projA``'s."""
        if module is target:
            return True
        origin = self.reexport_origin(module, name)
        return origin is None or (origin is not False and origin[0] is target)

    def reexport_origin(self, module: Module, name: str):
        """Where a name that ``module`` imports from a project module is defined, following package
        re-exports (``from .fix_bn import fix_bn`` in an ``__init__``): (defining module, its name
        there). None when ``module`` does not import the name from a module or the import leaves the
        project; False when the chain cannot be followed (a module importing from itself, more than
        four hops)."""
        importer = module
        for _hop in range(4):
            imported = importer.imports.aliases.get(name, "")
            if "." not in imported.lstrip("."):
                return None if importer is module else (importer, name)
            source = self.module_named(imported.lstrip(".").rsplit(".", 1)[0], importer)
            if source is None:
                return None
            if source is importer:
                return False
            name, importer = imported.rsplit(".", 1)[-1], source
        return False

    def attribute_module(self, module: Module, func: ast.AST) -> Optional[Module]:
        """The project module that ``x.f`` (``func``) reads ``f`` from when ``x`` is an imported
        module (``import net; net.inference``, ``from pkg import net``, ``import pkg.net``), settled
        like the import itself: the module next to the importer first. None when ``x`` is no import
        (an object: ``self.net.f``, ``model.f``) or names no single project module."""
        if not isinstance(func, ast.Attribute):
            return None
        base = dotted(func.value)
        if base is None:
            return None
        head, _, rest = base.partition(".")
        target = module.imports.aliases.get(head)
        if target is None:
            return None
        name = (target + "." + rest if rest else target).lstrip(".")
        if not name:
            return None
        return self.module_named(name, module)

    def attribute_may_name(self, module: Module, func: ast.AST, target: Module) -> bool:
        """Can ``x.f`` (``func``) in ``module`` be the top-level ``f`` defined in ``target``? False only
        when ``x`` is an imported project module other than ``target`` that defines ``f`` itself
        (``import net`` names ``exp_b/net.py`` next to the importer, not ``exp_a/net.py``) or imports
        it from a module other than ``target``; True for objects, packages re-exporting the name,
        star imports and anything not settled."""
        mod = self.attribute_module(module, func)
        if mod is None or mod is target or not isinstance(func, ast.Attribute):
            return True
        name = func.attr
        origin = self.reexport_origin(mod, name)
        if origin:
            return origin[0] is target
        if origin is False:
            return True
        return not any(f.cls is None and f.name == name and mod.scope_of(f.node) is None for f in mod.functions) \
            and not any(c.name == name and mod.scope_of(c) is None for c in mod.classes)

    def import_component(self, module: Module) -> frozenset:
        """Ids of the modules connected to ``module`` by project imports (either direction,
        transitively): the program it belongs to. Unrelated scripts in one folder are separate."""
        components = self.facts.get("project.import_components")
        if components is None:
            components = self.facts["project.import_components"] = self._import_components()
        return components.get(id(module), frozenset({id(module)}))  # type: ignore[union-attr]

    def _import_components(self) -> dict[int, frozenset]:
        edges: dict[int, set[int]] = {id(m): set() for m in self.modules}
        for m in self.modules:
            targets = set(m.imports.imported_modules) | set(m.imports.aliases.values())
            for t in targets:
                parts = t.lstrip(".").split(".")
                for k in range(len(parts), 0, -1):
                    target = self.module_named(".".join(parts[:k]), m)
                    if target is not None:
                        if target is not m:
                            edges[id(m)].add(id(target))
                            edges[id(target)].add(id(m))
                        break
        components: dict[int, frozenset] = {}
        for start in edges:
            if start in components:
                continue
            seen, todo = {start}, [start]
            while todo:
                for nxt in edges[todo.pop()]:
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            group = frozenset(seen)
            for i in seen:
                components[i] = group
        return components

    def module_named(self, dotted_name: str, importer: Optional[Module] = None) -> Optional[Module]:
        """The project module whose dotted name is ``dotted_name`` or ends with it (``pkg.config``
        for ``config``); None when absent or still ambiguous.

        Course and paper repositories often hold several modules with the same name (one
        ``resnet.py`` per lesson). With the ``importer`` known, the ambiguity is settled the way
        Python's import path does: the module next to the importing file wins (a script's own
        directory is ``sys.path[0]``, and a relative import starts there too), then the module
        rooted at the nearest ancestor directory of the importer."""
        if not hasattr(self, "_modules_by_tail"):
            self._modules_by_tail: dict[str, list[Module]] = defaultdict(list)
            self._nearest: dict[tuple[str, int], Optional[Module]] = {}
            for m in self.modules:
                parts = m.module_name.split(".")
                for i in range(len(parts)):
                    self._modules_by_tail[".".join(parts[i:])].append(m)
        tail = dotted_name.lstrip(".")
        found = self._modules_by_tail.get(tail, [])
        if len(found) == 1:
            return found[0]
        if not found or importer is None:
            return None
        # asked once per import per question: settle each (name, importer) pair once
        key = (tail, id(importer))
        try:
            return self._nearest[key]
        except KeyError:
            best = self._nearest[key] = _nearest_import_root(found, len(tail.split(".")), importer)
            return best

    def modules_named(self, dotted_name: str) -> list[Module]:
        """Every project module whose dotted name is ``dotted_name`` or ends with it."""
        self.module_named(dotted_name)  # builds the index
        return list(self._modules_by_tail.get(dotted_name.lstrip("."), []))

    def add_module(self, m: Module) -> None:
        self.modules.append(m)
        self.__dict__.pop("_modules_by_tail", None)
        self.__dict__.pop("_nearest", None)
        self._add(m)

    def functions(self, name: str) -> list[FunctionInfo]:
        return self.functions_by_name.get(name, [])

    def call_sites(self, name: str) -> list[CallSite]:
        """Every call in the project whose callee's last name is ``name`` (``f(...)``, ``x.f(...)``)."""
        return self.calls_by_name.get(name, [])

    def calls_to(self, qualname: str) -> list[CallSite]:
        return self.calls_by_qualname.get(qualname, [])

    def all_calls(self) -> Iterable[CallSite]:
        for m in self.modules:
            yield from m.calls

    def fact(self, key: str, compute):
        """Memoised project-wide fact: ``project.fact("tf1.update_ops_consumers", fn)``. A failure is
        memoised too: every module asks for the same fact, and recomputing a failing project-wide
        fact once per module turned one internal error into thousands of slow ones."""
        if key not in self.facts:
            try:
                self.facts[key] = compute(self)
            except Exception as exc:
                self.facts[key] = _FailedFact(exc)
        value = self.facts[key]
        if isinstance(value, _FailedFact):
            raise value.error
        return value


class _FailedFact:
    __slots__ = ("error",)

    def __init__(self, error: Exception):
        self.error = error


# --- what a scope binds its names to (shared by the torch flow and the TF1 rules) --------------------
@per_node
def call_assignments(scope: ast.AST) -> dict[str, list[ast.Call]]:
    """``name = f(...)`` in ``scope`` (nested blocks and functions included): name -> the calls
    assigned to it, in walk order."""
    out: dict[str, list[ast.Call]] = {}
    for st in getattr(scope, "body", []):
        for n in astwalk.walk(st):
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call):
                for name in dict.fromkeys(t.id for t in n.targets if isinstance(t, ast.Name)):
                    out.setdefault(name, []).append(n.value)
    return out


@per_node
def single_name_assignments(scope: ast.AST) -> dict[str, list[ast.Assign]]:
    """``name = value`` with that one plain-name target in ``scope`` (nested blocks and functions
    included): name -> the assignments, statement by statement."""
    out: dict[str, list[ast.Assign]] = {}
    body = getattr(scope, "body", [])
    for st in body if isinstance(body, list) else ():
        for n in astwalk.walk(st):
            if isinstance(n, ast.Assign) and len(n.targets) == 1 and isinstance(n.targets[0], ast.Name):
                out.setdefault(n.targets[0].id, []).append(n)
    return out


@per_node
def with_bindings(scope: ast.AST) -> dict[str, list[ast.Call]]:
    """``with tf.Session() as sess``: name -> the calls whose results a ``with`` binds to it."""
    out: dict[str, list[ast.Call]] = {}
    for st in getattr(scope, "body", []):
        for n in astwalk.walk(st):
            if isinstance(n, (ast.With, ast.AsyncWith)):
                for item in n.items:
                    if isinstance(item.optional_vars, ast.Name) and isinstance(item.context_expr, ast.Call):
                        out.setdefault(item.optional_vars.id, []).append(item.context_expr)
    return out


# --- unit tests: code that checks the model, neither training nor evaluating it ----------------------
def is_unit_test(module: Module, scope: Optional[ast.AST]) -> bool:
    """Is ``scope`` a unit test: a ``test*`` function in a test file (``test_x.py``, ``x_test.py``,
    ``conftest.py``) or a ``test*`` method of a ``TestCase`` class? A script named ``test.py`` that
    evaluates a model is not one."""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)) or not scope.name.lower().startswith("test"):
        return False
    if is_test_file(module.path):
        return True
    cls = module.enclosing_class(scope)
    return cls is not None and any((dotted(b) or "").endswith("TestCase") for b in cls.bases)


def is_test_file(path: str) -> bool:
    """``test_x.py``, ``x_test.py`` or ``conftest.py``."""
    base = path.replace("\\", "/").rsplit("/", 1)[-1]
    return base.startswith("test_") or base.endswith("_test.py") or base == "conftest.py"
