"""Import resolution: every spelling that reaches an API resolves to one canonical dotted name.

``import tensorflow.compat.v1 as tf; tf.layers.batch_normalization`` and
``from tensorflow.layers import batch_normalization`` both resolve to
``tensorflow.layers.batch_normalization``. Rules compare canonical names only.
"""
from __future__ import annotations

import ast
from typing import Optional

from bnguard.lint import astwalk

# Prefix rewrites applied (longest first) after alias substitution. They fold version/compat
# spellings of one API into one name. Rule families may add their own with `add_canonical_prefix`.
CANONICAL_PREFIXES: dict[str, str] = {
    "tensorflow.compat.v1": "tensorflow",
    "tensorflow.compat.v2": "tensorflow",
    "tensorflow._api.v2.compat.v1": "tensorflow",
    "tensorflow._api.v2": "tensorflow",
    "tensorflow.python.ops.nn": "tensorflow.nn",
    "tensorflow.python.layers": "tensorflow.layers",
    "tensorflow.contrib.slim": "tf_slim",
    "tensorflow.contrib.layers": "tf_slim",
    "tensorflow.contrib.framework": "tf_slim",
    "tensorflow.contrib.training": "tf_slim.training",
    "tf_slim.layers": "tf_slim",
    "tf_slim.ops": "tf_slim",
    "tf_slim.framework": "tf_slim",
    "torch.nn.modules.batchnorm": "torch.nn",
    "torch.nn.modules": "torch.nn",
}

# When a fragment uses a conventional alias that nothing in the file binds, assume the usual module:
# users paste snippets without their imports and still expect them checked.
CONVENTIONAL_ALIASES: dict[str, str] = {
    "tf": "tensorflow",
    "slim": "tf_slim",
    "torch": "torch",
    "keras": "keras",
}


def add_canonical_prefix(prefix: str, canonical: str) -> None:
    CANONICAL_PREFIXES[prefix] = canonical
    _SORTED_PREFIXES.clear()


_SORTED_PREFIXES: list[tuple[str, str]] = []


def canonicalize(name: str) -> str:
    if not _SORTED_PREFIXES:
        _SORTED_PREFIXES.extend(sorted(CANONICAL_PREFIXES.items(), key=lambda kv: -len(kv[0])))
    changed = True
    while changed:
        changed = False
        for prefix, repl in _SORTED_PREFIXES:
            if name == prefix or name.startswith(prefix + "."):
                new = repl + name[len(prefix):]
                if new != name:
                    name, changed = new, True
                break
    return name


def dotted(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None (calls, subscripts break the chain)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class ImportMap:
    """Local names bound by imports (and by plain aliasing assignments) -> canonical dotted names.

    The map is file-wide: an import inside a function also counts, which is what a reader assumes
    when the same alias is used throughout a file.
    """

    def __init__(self, tree: Optional[ast.AST] = None):
        self.aliases: dict[str, str] = {}
        self.bound_names: set[str] = set()  # every name bound anywhere (to veto conventional aliases)
        self.imported_modules: set[str] = set()  # canonical modules/packages imported
        self._assigns: list[ast.Assign] = []
        if tree is not None:
            for node in astwalk.walk(tree):
                self.add(node)
            self.finish()

    def add(self, node: ast.AST) -> None:
        """Take one node of the file into account (the module index feeds its one walk here)."""
        t = type(node)
        if t is ast.Name:
            if type(node.ctx) is ast.Store:
                self.bound_names.add(node.id)
        elif t is ast.Assign:
            self._assigns.append(node)
        elif t is ast.arg:
            self.bound_names.add(node.arg)
        elif t is ast.Import:
            for a in node.names:
                if a.asname:
                    self.aliases[a.asname] = canonicalize(a.name)
                else:
                    head = a.name.split(".")[0]
                    self.aliases.setdefault(head, head)
                self.imported_modules.add(canonicalize(a.name))
        elif t is ast.ImportFrom:
            if node.level or not node.module:
                # relative import: a project module; bind to a project-relative name
                base = "." * node.level + (node.module or "")
                for a in node.names:
                    self.aliases[a.asname or a.name] = f"{base}.{a.name}" if node.module else f"{base}{a.name}"
                return
            self.imported_modules.add(canonicalize(node.module))
            for a in node.names:
                if a.name == "*":
                    continue
                self.aliases[a.asname or a.name] = canonicalize(f"{node.module}.{a.name}")
        elif t is ast.FunctionDef or t is ast.AsyncFunctionDef or t is ast.ClassDef:
            self.bound_names.add(node.name)

    def finish(self) -> None:
        """After every node was added: aliases made by assignment."""
        # `slim = tf.contrib.slim`, `layers = tf.layers`, `BN = nn.BatchNorm2d`: aliases by assignment.
        # Two rounds so that chains (`a = tf.contrib; slim = a.slim`) resolve.
        assigns, self._assigns = self._assigns, []
        for _ in range(2):
            for node in assigns:
                if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    name = node.targets[0].id
                    target = self.resolve(node.value)
                    if target and target != name and ("." in target or target in CANONICAL_PREFIXES.values()):
                        self.aliases[name] = target

    def resolve(self, node: ast.AST) -> Optional[str]:
        """Canonical dotted name of a Name/Attribute chain, or None when the head is not an import."""
        d = dotted(node)
        if d is None:
            return None
        return self.resolve_dotted(d)

    def resolve_dotted(self, d: str) -> Optional[str]:
        head, _, rest = d.partition(".")
        base = self.aliases.get(head)
        if base is None:
            conv = CONVENTIONAL_ALIASES.get(head)
            if conv is None or head in self.bound_names:
                return None
            base = conv
        return canonicalize(f"{base}.{rest}" if rest else base)

    def imports_any(self, *prefixes: str) -> bool:
        """Does the file import anything under one of these canonical prefixes?"""
        for m in self.imported_modules | set(self.aliases.values()):
            for p in prefixes:
                if m == p or m.startswith(p + "."):
                    return True
        return False
