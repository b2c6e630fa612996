"""Project-wide TF1 facts shared by the BN1xx rules (computed once per project, memoised).

- **BN sites**: every place a TF1 batch-norm layer is built — ``tf.layers.batch_normalization``,
  ``tf.layers.BatchNormalization()(x, training=...)``, contrib/slim ``batch_norm`` and layers that
  run it as ``normalizer_fn`` — with its training flag and ``updates_collections`` resolved through
  the call, ``normalizer_params``, enclosing ``arg_scope`` blocks and the API default.
- **training context**: modules that build a train op, and every function reachable from them.
- **UPDATE_OPS consumers** and helpers that wire the update ops themselves.
- **restore / transfer-learning / eager / deliberate batch-statistics** signals.

Nothing here imports TensorFlow.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable, Optional

from bnguard.lint import astwalk
from bnguard.lint import keras_facts as kf
from bnguard.lint import values as V
from bnguard.lint.imports import add_canonical_prefix, dotted
from bnguard.lint.memo import per_node
from bnguard.lint.project import CallSite, Module, Project, single_name_assignments

add_canonical_prefix("tf_slim.python.layers.layers", "tf_slim")
add_canonical_prefix("tf_slim.python.slim", "tf_slim")
add_canonical_prefix("tf_slim.python.framework", "tf_slim")
add_canonical_prefix("tf_slim.python.training", "tf_slim.training")
add_canonical_prefix("tensorflow.contrib.framework.python.ops", "tf_slim")
add_canonical_prefix("tensorflow.python.ops.variables", "tensorflow")
add_canonical_prefix("tensorflow.python.framework.ops.GraphKeys", "tensorflow.GraphKeys")
add_canonical_prefix("tensorflow.python.training", "tensorflow.train")

# --- API tables -------------------------------------------------------------------------------
LAYERS_BN_FUNCS = {"tensorflow.layers.batch_normalization", "tensorflow.keras.layers.batch_normalization"}
LAYERS_BN_CLASSES = {"tensorflow.layers.BatchNormalization"}
KERAS_BN_CLASSES = {"tensorflow.keras.layers.BatchNormalization", "tf_keras.layers.BatchNormalization",
                    "tensorflow.python.keras.layers.BatchNormalization"}
LAYER_UPDATES = "layer.updates"


def is_standalone_keras_bn(qualname: Optional[str]) -> bool:
    """``keras.layers.BatchNormalization`` of the standalone ``keras`` package (``from keras import
    layers``, ``keras.src...``): Keras 3 since TF 2.16, whose layers in a v1 graph create their
    moving-average assignments as orphan ops (no UPDATE_OPS, no ``layer.updates``)."""
    q = qualname or ""
    if not (q.startswith("keras.") and kf.is_keras_bn_layer(q)):
        return False
    return not q.startswith(("keras._tf_keras.", "keras.api._v2."))  # tf_keras / Keras 2 spellings
SLIM_BN_FUNCS = {"tf_slim.batch_norm", "tf_slim.layers.batch_norm"}
ARG_SCOPE = {"tf_slim.arg_scope"}
# Optimiser methods that create a train op.
TRAIN_OP_METHODS = {"minimize", "apply_gradients"}
# Helpers that build the train op *and* run the UPDATE_OPS themselves (documented in BN103).
UPDATE_WIRING_HELPERS = {
    "tf_slim.learning.create_train_op",  # slim.learning.create_train_op (update_ops=None -> UPDATE_OPS)
    "tf_slim.training.create_train_op",  # tf.contrib.training / tf_slim.training.create_train_op
    "tf_slim.create_train_op",
    "tf_slim.optimize_loss",  # tf.contrib.layers.optimize_loss (update_ops=None -> UPDATE_OPS)
    "tensorflow.contrib.gan.gan_train_ops",  # TF-GAN wires generator/discriminator update ops
    "tensorflow.contrib.gan.gan_train",
    "tensorflow_gan.gan_train_ops",
}
UPDATE_WIRING_NAMES = {"create_train_op", "optimize_loss", "gan_train_ops", "deploy"}
# Frameworks that run the update ops in their own trainers.
SELF_WIRING_PACKAGES = ("tensorpack", "tflearn", "sonnet", "tensorlayer", "tensor2tensor")
RESTORE_NAMES = {"restore", "import_meta_graph", "init_from_checkpoint", "assign_from_checkpoint_fn",
                 "assign_from_checkpoint", "load_weights", "load_model", "load_checkpoint", "warm_start"}
TRANSFER_NAMES = {"init_from_checkpoint", "assign_from_checkpoint_fn", "assign_from_checkpoint",
                  "get_variables_to_restore", "load_weights", "warm_start"}
INIT_QUALNAMES = {"tensorflow.global_variables_initializer", "tensorflow.initialize_all_variables",
                  "tensorflow.variables_initializer", "tensorflow.initializers.global_variables"}
# Identifiers that mark deliberate batch statistics at test time (GANs, meta-learning, test-time
# adaptation): BN105 stays silent in such projects (see ``mentions_deliberate_batch_stats``).
_DELIBERATE_TOKENS = frozenset({"maml", "fomaml", "imaml", "metalearn", "metalearning", "metalearner", "reptile",
                                "discriminator", "pix2pix", "transductive", "tta", "adabn", "tent", "adapt",
                                "adaptation"})
_META_FOLLOWERS = frozenset({"learn", "learning", "learner", "train", "training", "test", "testing", "lr",
                             "batch", "update", "step", "loss", "optimizer", "optim", "val", "sgd"})
_NOT_GAN = frozenset({"organ", "organs", "slogan", "began", "logan", "morgan", "vegan", "hogan", "pagan"})


@functools.lru_cache(maxsize=1 << 18)
def identifier_words(identifier: str) -> tuple[str, ...]:
    """``metaTrain_step`` -> ``("meta", "train", "step")`` (cached: the same names recur in every
    module)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", identifier))
    return tuple(t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t)


def mentions_deliberate_batch_stats(names: Iterable[str]) -> bool:
    """Do these identifiers/path parts name a setting where batch statistics at test time are
    deliberate: GANs (``dcgan``, ``discriminator``, ``pix2pix``), meta-learning (``maml``,
    ``meta_train``, ``reptile``), test-time adaptation (``tent``, ``adabn``, ``tta``)? Whole words,
    not substrings: ``random_transform_generator``, ``import_meta_graph``, ``organ`` or ``attach``
    say nothing of the kind (a data generator is not a GAN generator)."""
    for name in set(names):
        toks = identifier_words(name)
        for i, t in enumerate(toks):
            if t in _DELIBERATE_TOKENS or (t.endswith("gan") and t not in _NOT_GAN) or t.endswith("gans"):
                return True
            if t == "meta" and i + 1 < len(toks) and toks[i + 1] in _META_FOLLOWERS:
                return True
    return False


@dataclass
class BNSite:
    node: ast.AST  # where to report
    module: Module
    api: str  # "layers" (tf.layers) | "slim" (contrib/slim batch_norm)
    flag_expr: Optional[ast.AST]  # None: not passed anywhere -> API default
    flag_source: str  # human description of where the flag comes from
    flag: object  # possible values (frozenset / UNKNOWN)
    updates: object  # possible values of updates_collections; frozenset({"UPDATE_OPS"}) by default
    trainable_false: bool = False
    dropped_param: Optional[str] = None  # an enclosing function has a flag parameter that never reaches BN
    updates_read: bool = False  # a layer object whose ``.updates`` the code reads (wired by hand)

    @property
    def default_training(self) -> bool:
        return self.api == "slim"

    @property
    def where(self) -> str:
        return self.module.where(getattr(self.node, "lineno", 1))


_OPAQUE = object()
UPDATE_OPS = "UPDATE_OPS"
FLAG_NAMES = ("is_training", "training", "train", "is_train", "phase_train", "train_phase",
              "training_phase", "phase", "mode", "is_training_ph", "bn_training", "istrain", "isTrain",
              "is_training_bn", "bn_is_training", "trainable_bn")


def _kw(call: ast.Call, name: str) -> Optional[ast.AST]:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _arg(call: ast.Call, name: str, pos: Optional[int]) -> tuple[Optional[ast.AST], bool]:
    """(expression passed for ``name``, opaque?) — opaque when ``*args``/``**kwargs`` may hide it."""
    v = _kw(call, name)
    if v is not None:
        return v, False
    if pos is not None:
        for i, a in enumerate(call.args):
            if isinstance(a, ast.Starred):
                return None, True
            if i == pos:
                return a, False
    if any(kw.arg is None for kw in call.keywords):
        return None, True
    return None, False


def is_update_ops_ref(node: ast.AST, module: Module) -> bool:
    if isinstance(node, ast.Constant) and node.value == "update_ops":
        return True
    q = module.imports.resolve(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    d = dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    return bool((q and q.endswith("GraphKeys.UPDATE_OPS")) or (d and d.endswith("UPDATE_OPS")))


# --- dictionaries (normalizer_params) -----------------------------------------------------------
def _dict_items(expr: Optional[ast.AST], module: Module, project: Project, depth: int = 0):
    """{key: value expr} of a dict literal / ``dict(...)`` / a name bound once to one; _OPAQUE otherwise."""
    if expr is None or depth > 5:
        return _OPAQUE
    if isinstance(expr, ast.Dict):
        out = {}
        for k, v in zip(expr.keys, expr.values):
            if k is None:
                inner = _dict_items(v, module, project, depth + 1)
                if inner is _OPAQUE:
                    return _OPAQUE
                out.update(inner)
            elif isinstance(k, ast.Constant) and isinstance(k.value, str):
                out[k.value] = v
            else:
                return _OPAQUE
        return out
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Name) and expr.func.id == "dict" and not expr.args:
        if any(kw.arg is None for kw in expr.keywords):
            return _OPAQUE
        return {kw.arg: kw.value for kw in expr.keywords}
    if isinstance(expr, ast.Name):
        found = V.resolver(project).binding_of(expr.id, module, module.scope_of(expr))
        if found is None:
            return _OPAQUE
        bs = found[0]
        if len(bs) != 1 or bs[0].kind != "expr" or _mutated(expr.id, module):
            return _OPAQUE
        return _dict_items(bs[0].expr, module, project, depth + 1)
    return _OPAQUE


def _mutated(name: str, module: Module) -> bool:
    """``params['is_training'] = ...`` / ``params.update(...)`` anywhere in the module."""
    key = "_tf1_mutated_dicts"
    cache = module.__dict__.get(key)
    if cache is None:
        cache = set()
        for node in astwalk.walk(module.tree):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                for t in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    if isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name):
                        cache.add(t.value.id)
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                if node.func.attr in ("update", "setdefault", "pop", "__setitem__"):
                    cache.add(node.func.value.id)
        module.__dict__[key] = cache
    return name in cache


# --- arg_scope ------------------------------------------------------------------------------------
def _arg_scope_value(call: ast.AST, op_qualnames: set[str], key: str, module: Module):
    """Value set for ``key`` on ops ``op_qualnames`` by lexically enclosing ``arg_scope`` blocks.

    Returns (expr, with_call) for the innermost scope that sets it, (None, None) when none does,
    or (_OPAQUE, with_call) when an enclosing scope is opaque (``arg_scope(my_scope())``).
    """
    for anc in module.ancestors(call):
        if not isinstance(anc, (ast.With, ast.AsyncWith)):
            continue
        for item in anc.items:
            c = item.context_expr
            if not isinstance(c, ast.Call) or module.imports.resolve(c.func) not in ARG_SCOPE:
                continue
            if not c.args:
                continue
            ops = c.args[0]
            if not isinstance(ops, (ast.List, ast.Tuple)):
                return _OPAQUE, c
            names = {module.imports.resolve(e) for e in ops.elts}
            if names & op_qualnames:
                v = _kw(c, key)
                if v is not None:
                    return v, c
                if any(kw.arg is None for kw in c.keywords):
                    return _OPAQUE, c
    return None, None


def _dynamic_arg_scopes(modules: Iterable[Module]) -> dict[str, bool]:
    """Keys set on batch_norm by any arg_scope in ``modules`` (they may reach BN calls in functions
    called inside the block: arg_scope is dynamic), and whether any arg_scope is opaque."""
    keys: dict[str, bool] = {}
    for m in modules:
        for c in m.calls:
            if c.qualname not in ARG_SCOPE or not c.node.args:
                continue
            ops = c.node.args[0]
            if not isinstance(ops, (ast.List, ast.Tuple)):
                keys["*opaque*"] = True
                continue
            names = {m.imports.resolve(e) for e in ops.elts}
            for kw in c.node.keywords:
                if kw.arg is None:
                    keys["*opaque*"] = True
                elif names & SLIM_BN_FUNCS:
                    keys[kw.arg] = True
                elif kw.arg in ("normalizer_params", "normalizer_fn"):
                    keys[kw.arg] = True
    return keys


def _reached_from_arg_scopes(modules: list[Module]) -> tuple[set[int], set[str]]:
    """(ids of the functions that calls inside an ``arg_scope`` block of ``modules`` may run, by
    callee name through any depth — a class name runs all its methods; the names called anywhere
    in ``modules``)."""
    defs: dict[str, list[ast.AST]] = defaultdict(list)
    calls_in: dict[int, list[str]] = defaultdict(list)
    called: set[str] = set()
    todo: list[str] = []
    for m in modules:
        for fi in m.functions:
            defs[fi.name].append(fi.node)
            if fi.cls is not None:
                defs[fi.cls.name].append(fi.node)
        for c in m.calls:
            if c.name:
                called.add(c.name)
                if c.scope is not None:
                    calls_in[id(c.scope)].append(c.name)
            if c.qualname in ARG_SCOPE:
                block = m.parent(m.parent(c.node))  # the call -> its withitem -> the with statement
                if isinstance(block, (ast.With, ast.AsyncWith)):
                    todo.extend((dotted(n.func) or "").rsplit(".", 1)[-1]
                                for stmt in block.body for n in astwalk.walk(stmt) if isinstance(n, ast.Call))
    reached: set[int] = set()
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if not name or name in seen:
            continue
        seen.add(name)
        for node in defs.get(name, ()):
            if id(node) not in reached:
                reached.add(id(node))
                todo.extend(calls_in.get(id(node), ()))
                # functions nested in a reached one run when it calls them: by name, above
    return reached, called


# --- BN sites -------------------------------------------------------------------------------------
class _SiteBuilder:
    def __init__(self, project: Project):
        self.project = project
        self._program_of: dict[int, frozenset] = {}  # module id -> ids of the modules of its program
        self._dynamic_by_program: dict[frozenset, dict[str, bool]] = {}
        self._in_scope_by_program: dict[frozenset, tuple[set[int], set[str]]] = {}
        self.sites: list[BNSite] = []
        self._seen: set[int] = set()

    def build(self) -> list[BNSite]:
        for m in self.project.modules:
            for c in m.calls:
                q = c.qualname
                if q is None and c.name in ("BatchNormalization", "batch_normalization"):
                    q = self._through_module_factory(c)
                    if q is not None:
                        c = dataclasses.replace(c, qualname=q)
                try:
                    if q in LAYERS_BN_FUNCS:
                        self._layers_func(c)
                    elif q in SLIM_BN_FUNCS:
                        self._slim(c, c.node, c.node, "", None)
                    elif q in LAYERS_BN_CLASSES:
                        self._layers_class(c)
                    elif q in KERAS_BN_CLASSES:
                        self._layers_class(c, keras=True)
                    elif q in ARG_SCOPE:
                        self._arg_scope_normalizer(c)
                    elif q and q.startswith("tf_slim."):
                        self._normalizer_fn(c)
                except RecursionError:
                    continue
        return self.sites

    def _through_module_factory(self, c: CallSite) -> Optional[str]:
        """``layers().BatchNormalization(...)`` where ``layers()`` is a project function without
        parameters that returns the layers module (``return tf.layers``, or ``tf.keras.layers`` under
        TF2: tensor2tensor's ``common_layers.layers``): the BN API of the module it returns, the
        ``tf.layers`` one when either may be returned (both default to inference mode in a graph)."""
        f = c.node.func
        if not (isinstance(f, ast.Attribute) and isinstance(f.value, ast.Call) and isinstance(f.value.func, ast.Name)
                and not f.value.args and not f.value.keywords):
            return None
        modules = set()
        name = f.value.func.id
        candidates = [fi for fi in self.project.functions(name) if fi.module is c.module]  # its own first
        if not candidates:
            target = c.module.imports.aliases.get(name, "")
            source = self.project.module_named(target.rsplit(".", 1)[0], c.module) if "." in target else None
            candidates = [fi for fi in self.project.functions(name) if source is not None and fi.module is source]
        for fi in candidates:
            fn = fi.node
            if fi.cls is not None or fn.args.args or fn.args.posonlyargs or fn.args.kwonlyargs:
                continue
            returned = [n.value for n in astwalk.walk(fn) if isinstance(n, ast.Return) and n.value is not None]
            for value in returned:
                if isinstance(value, ast.Name):  # layers_module = tf.layers ... return layers_module
                    values = [a.value for a in astwalk.walk(fn) if isinstance(a, ast.Assign)
                              and any(isinstance(t, ast.Name) and t.id == value.id for t in a.targets)]
                else:
                    values = [value]
                for v in values:
                    if not (isinstance(v, ast.Constant) and v.value is None):
                        modules.add(fi.module.imports.resolve(v) or "")
        if not modules or not modules <= {"tensorflow.layers", "tensorflow.keras.layers", "tf_keras.layers"}:
            return None
        base = "tensorflow.layers" if "tensorflow.layers" in modules else sorted(modules)[0]
        return f"{base}.{c.name}"

    def _resolve(self, expr, m: Module):
        return V.possible_values(expr, m, self.project)

    def _dropped(self, c: CallSite) -> Optional[str]:
        """A flag-like parameter of the enclosing function that the BN call does not receive."""
        f = c.scope
        if f is None or isinstance(f, ast.Lambda):
            return None
        params = [a.arg for a in f.args.posonlyargs + f.args.args + f.args.kwonlyargs]
        flag_params = [p for p in params if p in FLAG_NAMES]
        if not flag_params:
            return None
        used = {n.id for n in astwalk.walk(f) if isinstance(n, ast.Name) and n.id in flag_params}
        unused = [p for p in flag_params if p not in used]
        return unused[0] if unused else None

    def _layers_func(self, c: CallSite) -> None:
        call = c.node
        expr, opaque = _arg(call, "training", 14)
        if opaque:
            return
        trainable = _kw(call, "trainable")
        self._add(BNSite(
            node=call, module=c.module, api="layers", flag_expr=expr,
            flag_source="`training` argument" if expr is not None else "the API default (training=False)",
            flag=self._resolve(expr, c.module) if expr is not None else frozenset([False]),
            updates=frozenset([UPDATE_OPS]),
            trainable_false=trainable is not None and V.always_false(trainable, c.module, self.project),
            dropped_param=self._dropped(c) if expr is None else None,
        ))

    def _layers_class(self, c: CallSite, keras: bool = False) -> None:
        """``tf.layers.BatchNormalization(...)`` (or, with ``keras``, ``tf.keras.layers.BatchNormalization``)
        applied as ``layer(x, training=...)``."""
        m = c.module
        parent = m.parent(c.node)
        applications: list[ast.Call] = []
        updates_read = False
        if isinstance(parent, ast.Call) and parent.func is c.node:
            applications.append(parent)
        elif isinstance(parent, ast.Assign) and len(parent.targets) == 1:
            target = parent.targets[0]
            tname = dotted(target)
            if tname is None:
                return
            for other in m.calls:
                if other.scope is c.scope or (isinstance(target, ast.Attribute)):
                    if dotted(other.node.func) == tname:
                        applications.append(other.node)
            # ``with tf.control_dependencies(norm.updates): x = tf.identity(x)``: the layer's own
            # update ops, wired by hand (``get_updates_for(x)`` too)
            reads = [r for r in m.references.get("updates", ()) if isinstance(r, ast.Attribute)]
            reads += [k.node.func for k in m.calls if k.name == "get_updates_for"]
            updates_read = any(dotted(r.value) == tname and (isinstance(target, ast.Attribute) or m.scope_of(r) is c.scope)
                               for r in reads)
        for app in applications:
            expr, opaque = _arg(app, "training", 1)
            if opaque:
                continue
            if keras:
                # Keras layers keep their updates in ``layer.updates``, never in UPDATE_OPS; without
                # ``training`` they follow the learning phase (unknown here).
                trainable = _kw(c.node, "trainable")
                self._add(BNSite(
                    node=app, module=m, api="keras", flag_expr=expr, flag_source="`training` argument",
                    flag=self._resolve(expr, m) if expr is not None else V.UNKNOWN,
                    updates=frozenset([LAYER_UPDATES]),
                    trainable_false=trainable is not None and V.always_false(trainable, m, self.project),
                ))
                continue
            self._add(BNSite(
                node=app, module=m, api="layers", flag_expr=expr,
                flag_source="`training` argument" if expr is not None else "the API default (training=False)",
                flag=self._resolve(expr, m) if expr is not None else frozenset([False]),
                updates=frozenset([UPDATE_OPS]), updates_read=updates_read,
            ))

    def _dynamic(self, m: Module) -> dict[str, bool]:
        """The arg_scopes that can be in force around a call in ``m``: those of its own program
        (an opaque ``arg_scope(vgg_arg_scope())`` in a separate script or notebook that never runs
        this code says nothing about it)."""
        ids = self._program(m)
        found = self._dynamic_by_program.get(ids)
        if found is None:  # one scan per program, shared by its modules
            found = self._dynamic_by_program[ids] = _dynamic_arg_scopes(
                o for o in self.project.modules if id(o) in ids)
        return found

    def _program(self, m: Module) -> frozenset:
        ids = self._program_of.get(id(m))
        if ids is None:
            ids = self._program_of[id(m)] = frozenset(same_program(m, self.project))
        return ids

    def _may_run_in_arg_scope(self, call: ast.Call, m: Module) -> bool:
        """Can a caller's ``arg_scope`` block be in force around ``call`` (a BN call outside any
        block of its own)? Only in a function that a block of its program reaches by calls (by name,
        through any depth), or that nothing in the program calls (its callers are not visible)."""
        fn = m.scope_of(call)
        if fn is None:
            return False  # module level: runs at import, inside no caller's block
        if m.imports.resolve(call.func) in ARG_SCOPE:
            # ``arg_scope([conv2d], normalizer_fn=batch_norm)`` (a scope function's body): the
            # flag comes from the blocks opened where the ops run, later and anywhere
            return True
        ids = self._program(m)
        found = self._in_scope_by_program.get(ids)
        if found is None:
            found = self._in_scope_by_program[ids] = _reached_from_arg_scopes(
                [o for o in self.project.modules if id(o) in ids])
        reached, called = found
        name = getattr(fn, "name", "")
        cls = m.enclosing_class(fn)
        if id(fn) in reached:
            return True
        return name not in called and (cls is None or cls.name not in called)

    def _slim_param(self, call: ast.Call, report_node, m: Module, key: str, pos: Optional[int],
                    params: Optional[dict], scope_ops: set[str]):
        """(expr, source description, opaque) for a batch_norm keyword via call/params/arg_scope."""
        if params is not None:
            if key in params:
                return params[key], "`normalizer_params`", False
            expr, opaque = None, False
        else:
            expr, opaque = _arg(call, key, pos)
            if expr is not None:
                return expr, f"`{key}` argument", False
        if opaque:
            return None, "", True
        scoped, with_call = _arg_scope_value(call, scope_ops, key, m)
        if scoped is _OPAQUE:
            return None, "", True
        if scoped is not None:
            return scoped, f"`arg_scope` at {m.line_ref(with_call.lineno)}", False
        # arg_scope is dynamic: a block in a caller can set it for this call.
        dynamic = self._dynamic(m)
        if (dynamic.get("*opaque*") or dynamic.get(key)) and self._may_run_in_arg_scope(call, m):
            return None, "", True
        return None, "", False

    def _slim(self, c: CallSite, call: ast.Call, report_node, via: str, params: Optional[dict]) -> None:
        m = c.module
        ops = SLIM_BN_FUNCS
        flag_expr, flag_src, opaque = self._slim_param(call, report_node, m, "is_training", 9 if params is None else None, params, ops)
        if opaque:
            return
        upd_expr, _, upd_opaque = self._slim_param(call, report_node, m, "updates_collections", 8 if params is None else None, params, ops)
        if upd_opaque:
            updates = V.UNKNOWN
        elif upd_expr is None:
            updates = frozenset([UPDATE_OPS])
        elif is_update_ops_ref(upd_expr, m):
            updates = frozenset([UPDATE_OPS])
        else:
            updates = self._resolve(upd_expr, m)
        if flag_expr is None:
            flag = frozenset([True])
            flag_src = "the API default (is_training=True)"
        else:
            flag = self._resolve(flag_expr, m)
        trainable = _kw(call, "trainable") if params is None else params.get("trainable")
        # a literal `is_training: False` beside an explicit `trainable` switch that is not known to be
        # True (`'trainable': cfg.bn_training`): the whole layer frozen by design (detection fine-tuning)
        frozen_by_switch = isinstance(flag_expr, ast.Constant) and flag_expr.value is False and trainable is not None \
            and not V.always_true(trainable, m, self.project)
        self._add(BNSite(
            node=report_node, module=m, api="slim", flag_expr=flag_expr,
            flag_source=flag_src + via,
            flag=flag, updates=updates,
            trainable_false=trainable is not None and (frozen_by_switch or V.always_false(trainable, m, self.project)),
            dropped_param=self._dropped(c) if flag_expr is None else None,
        ))

    def _normalizer_fn(self, c: CallSite) -> None:
        """A slim layer with ``normalizer_fn=batch_norm`` (given directly or by ``arg_scope``)."""
        m = c.module
        call = c.node
        fn = _kw(call, "normalizer_fn")
        report_node = call
        op = {c.qualname}
        if fn is None:
            fn, with_call = _arg_scope_value(call, op, "normalizer_fn", m)
            if fn is None or fn is _OPAQUE:
                return
            report_node = with_call  # one finding per arg_scope block, not per layer
        fn_q = m.imports.resolve(fn)
        if fn_q not in SLIM_BN_FUNCS and fn_q not in LAYERS_BN_FUNCS:
            return
        pexpr = _kw(call, "normalizer_params")
        if pexpr is None:
            pexpr, _ = _arg_scope_value(call, op, "normalizer_params", m)
            if pexpr is _OPAQUE:
                return
        if pexpr is None:
            if self._dynamic(m).get("normalizer_params") and report_node is call and self._may_run_in_arg_scope(call, m):
                return
            params: dict = {}
        else:
            params = _dict_items(pexpr, m, self.project)
            if params is _OPAQUE:
                return
        if fn_q in LAYERS_BN_FUNCS:
            self._layers_normalizer(report_node, m, params)
            return
        self._slim(c, call, report_node, " (batch_norm as `normalizer_fn`)", params)

    def _layers_normalizer(self, report_node, m: Module, params: dict) -> None:
        """``normalizer_fn=tf.layers.batch_normalization`` with ``normalizer_params``."""
        expr = params.get("training")
        self._add(BNSite(
            node=report_node, module=m, api="layers", flag_expr=expr,
            flag_source=("`normalizer_params`" if expr is not None else
                         "the API default (training=False)") + " (tf.layers.batch_normalization as `normalizer_fn`)",
            flag=self._resolve(expr, m) if expr is not None else frozenset([False]),
            updates=frozenset([UPDATE_OPS]),
        ))

    def _arg_scope_normalizer(self, c: CallSite) -> None:
        """``with arg_scope([slim.conv2d], normalizer_fn=slim.batch_norm, normalizer_params=...)``:
        every layer built inside the block — lexically or in functions called there (arg_scope is
        dynamic) — runs batch norm with these parameters. One site, at the arg_scope call."""
        call = c.node
        m = c.module
        fn = _kw(call, "normalizer_fn")
        fn_q = m.imports.resolve(fn) if fn is not None else None
        if (fn_q not in SLIM_BN_FUNCS and fn_q not in LAYERS_BN_FUNCS) or not call.args:
            return
        if not isinstance(m.parent(call), ast.withitem):
            return  # a saved scope (``return sc``) applies wherever it is re-entered
        pexpr = _kw(call, "normalizer_params")
        params = {} if pexpr is None else _dict_items(pexpr, m, self.project)
        if params is _OPAQUE:
            return
        if fn_q in LAYERS_BN_FUNCS:
            self._layers_normalizer(call, m, params)
            return
        self._slim(c, call, call, " (batch_norm as `normalizer_fn` of an `arg_scope`)", params)

    def _add(self, site: BNSite) -> None:
        if id(site.node) in self._seen:
            return
        self._seen.add(id(site.node))
        self.sites.append(site)


def bn_sites(project: Project) -> list[BNSite]:
    return project.fact("tf1.bn_sites", lambda p: _SiteBuilder(p).build())


def standalone_keras_bn_sites(project: Project) -> list[BNSite]:
    """Applications of standalone-``keras`` BatchNormalization layers (api "keras"), kept apart from
    ``bn_sites``: only the check for Keras layers in a v1 graph reads them."""
    def compute(p: Project) -> list[BNSite]:
        builder = _SiteBuilder(p)
        for m in p.modules:
            if not m.mentions("keras"):
                continue
            for c in m.calls:
                if is_standalone_keras_bn(c.qualname):
                    try:
                        builder._layers_class(c, keras=True)
                    except RecursionError:
                        continue
        return builder.sites
    return project.fact("tf1.standalone_keras_bn_sites", compute)


def bn_sites_in(module: Module, project: Project) -> list[BNSite]:
    by_module = project.fact("tf1.bn_sites_by_module", _group_sites)
    return by_module.get(id(module), [])


def _group_sites(project: Project) -> dict[int, list[BNSite]]:
    out: dict[int, list[BNSite]] = defaultdict(list)
    for s in bn_sites(project):
        out[id(s.module)].append(s)
    return out


# --- training context -----------------------------------------------------------------------------
@dataclass
class TrainContext:
    train_ops: list[CallSite] = field(default_factory=list)  # minimize / apply_gradients / helpers
    trained_modules: set[int] = field(default_factory=set)
    reachable: set = field(default_factory=set)  # ids of functions reachable from training code
    wiring_helpers: list[CallSite] = field(default_factory=list)
    update_consumers: list[CallSite] = field(default_factory=list)  # get_collection(UPDATE_OPS) that is used
    dead_collections: list[CallSite] = field(default_factory=list)  # get_collection(UPDATE_OPS) never used
    other_update_refs: int = 0  # UPDATE_OPS mentioned outside get_collection
    other_update_ref_modules: set = field(default_factory=set)  # ids of the modules that mention it
    # ids of the modules behind ``self_wiring_framework`` / ``eager`` / ``keras_training``
    self_wiring_modules: set = field(default_factory=set)
    eager_modules: set = field(default_factory=set)
    keras_training_modules: set = field(default_factory=set)
    self_wiring_framework: bool = False
    eager: bool = False
    keras_training: bool = False
    restores: list[CallSite] = field(default_factory=list)
    transfer: bool = False
    initializer_modules: set[int] = field(default_factory=set)
    deliberate_batch_stats: bool = False
    deliberate_modules: set = field(default_factory=set)  # ids of the modules that name such a setting
    transfer_modules: set = field(default_factory=set)  # ids of the modules behind ``transfer``
    layer_updates_used: bool = False  # ``model.updates`` / ``layer.updates`` / ``get_updates_for``
    layer_updates_modules: set = field(default_factory=set)  # ids of the modules that use them
    session_modules: set = field(default_factory=set)  # modules that run a tf.Session (graph mode)
    # modules that build an Estimator train graph: ``EstimatorSpec(train_op=...)``, ``Estimator(model_fn=...)``
    estimator_modules: set = field(default_factory=set)
    frozen_layer_modules: set = field(default_factory=set)  # ``layer.trainable = False`` somewhere in them
    calls_by_scope: dict = field(default_factory=dict)
    methods_by_class: dict = field(default_factory=dict)


def _none_or_absent(expr: Optional[ast.AST]) -> bool:
    return expr is None or (isinstance(expr, ast.Constant) and expr.value is None)


def _is_get_update_ops(c: CallSite) -> bool:
    if c.name not in ("get_collection", "get_collection_ref"):
        return False
    a = c.node.args[0] if c.node.args else _kw(c.node, "key") or _kw(c.node, "name")
    return a is not None and is_update_ops_ref(a, c.module)


def _result_used(c: CallSite) -> bool:
    """Is the value of this call used (not assigned to a name nothing reads)?"""
    m = c.module
    parent = m.parent(c.node)
    if isinstance(parent, ast.Expr):
        return False
    if isinstance(parent, (ast.Assign, ast.AnnAssign)):
        targets = parent.targets if isinstance(parent, ast.Assign) else [parent.target]
        for t in targets:
            name = _last_name_of(t)
            if name is None or m.references.get(name):
                return True
        return False
    return True


def _last_name_of(t: ast.AST) -> Optional[str]:
    if isinstance(t, ast.Name):
        return t.id
    if isinstance(t, ast.Attribute):
        return t.attr
    return None


def _project_class_method_call(c: CallSite, project: Project) -> bool:
    """``trainer.fit(batches)`` where every binding of ``trainer`` in the scope constructs a project
    class that defines that method itself and derives from nothing Keras (a generic session-running
    ``Trainer``): no Keras ``Model.fit``, which would run the layers' updates itself."""
    recv = c.node.func.value if isinstance(c.node.func, ast.Attribute) else None
    if not isinstance(recv, ast.Name):
        return False
    scope = c.scope if c.scope is not None else c.module.tree
    bindings = single_name_assignments(scope).get(recv.id, ())
    if not bindings:
        return False
    classes = project.classes_by_name
    for b in bindings:
        ctor = b.value.func if isinstance(b.value, ast.Call) else None
        cname = ctor.id if isinstance(ctor, ast.Name) else ctor.attr if isinstance(ctor, ast.Attribute) else None
        found = classes.get(cname, ()) if cname else ()
        if isinstance(ctor, ast.Name):  # this module's own class, or the one it imports
            found = [(k, km) for k, km in found if km is c.module] or [
                (k, km) for k, km in found if c.module.imports.aliases.get(cname)
                and project.imports_name_from(c.module, cname, km)]
        else:
            found = [(k, km) for k, km in found if project.attribute_may_name(c.module, ctor, km)]
        if not found:
            return False
        for k, km in found:
            if not any(isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name == c.name for st in k.body):
                return False
            for base in k.bases:
                d = km.imports.resolve(base) or dotted(base) or ""
                if "keras" in d or d.rsplit(".", 1)[-1] in ("Model", "Sequential", "Layer"):
                    return False
    return True


def train_context(project: Project) -> TrainContext:
    return project.fact("tf1.train_context", _build_context)


def _build_context(project: Project) -> TrainContext:
    ctx = TrainContext()
    calls_by_scope: dict[int, list[CallSite]] = defaultdict(list)
    methods_by_class: dict[str, list[str]] = defaultdict(list)
    for m in project.modules:
        for f in m.functions:
            if f.cls is not None:
                methods_by_class[f.cls.name].append(f)
        if m.imports.imports_any(*SELF_WIRING_PACKAGES):
            ctx.self_wiring_framework = True
            ctx.self_wiring_modules.add(id(m))
        for c in m.calls:
            if c.name:
                calls_by_scope[id(c.scope)].append(c)  # its reference is made when reached
            q = c.qualname or ""
            name = c.name or ""
            if name in TRAIN_OP_METHODS and isinstance(c.node.func, ast.Attribute) and (c.node.args or c.node.keywords):
                ctx.train_ops.append(c)
                ctx.trained_modules.add(id(m))
            elif q == "tensorflow.gradients":
                ctx.trained_modules.add(id(m))
            if q in UPDATE_WIRING_HELPERS or (name in UPDATE_WIRING_NAMES and not project.functions(name)
                                               and (name != "deploy" or "model_deploy" in (dotted(c.node.func) or ""))):
                ctx.wiring_helpers.append(c)
                ctx.train_ops.append(c)
                ctx.trained_modules.add(id(m))
            if _is_get_update_ops(c):
                (ctx.update_consumers if _result_used(c) else ctx.dead_collections).append(c)
            if (q == "tensorflow.GradientTape" and not _eager_branch_only(c)) \
                    or q in ("tensorflow.enable_eager_execution", "tensorflow.enable_v2_behavior"):
                ctx.eager = True
                ctx.eager_modules.add(id(m))
            if name in ("fit", "fit_generator", "train_on_batch") and isinstance(c.node.func, ast.Attribute) \
                    and not _project_class_method_call(c, project):
                ctx.keras_training = True
                ctx.keras_training_modules.add(id(m))
            if name in RESTORE_NAMES:
                ctx.restores.append(c)
            if name in TRANSFER_NAMES:
                ctx.transfer = True
                ctx.transfer_modules.add(id(m))
            if name == "Saver" and _kw(c.node, "var_list") is not None:
                ctx.transfer = True
                ctx.transfer_modules.add(id(m))
            if q in INIT_QUALNAMES:
                ctx.initializer_modules.add(id(m))
            if q in ("tensorflow.Session", "tensorflow.InteractiveSession", "tensorflow.train.MonitoredTrainingSession",
                     "tensorflow.disable_eager_execution", "tensorflow.disable_v2_behavior", "tensorflow.placeholder"):
                ctx.session_modules.add(id(m))
            if (name in ("EstimatorSpec", "TPUEstimatorSpec") and not _none_or_absent(_kw(c.node, "train_op"))) \
                    or (name in ("Estimator", "TPUEstimator") and _kw(c.node, "model_fn") is not None):
                ctx.estimator_modules.add(id(m))
            if name == "WarmStartSettings" or _kw(c.node, "warm_start_from") is not None:
                ctx.transfer = True  # an Estimator fine-tuned from a checkpoint
                ctx.transfer_modules.add(id(m))
            if name in ("get_updates_for", "get_update_ops") or q == "tensorflow.keras.backend.get_session":
                ctx.layer_updates_used = True
                ctx.layer_updates_modules.add(id(m))
        if kf.frozen_objects_in(m):
            ctx.frozen_layer_modules.add(id(m))
        if m.references.get("updates") or m.references.get("_updates"):
            ctx.layer_updates_used = True
            ctx.layer_updates_modules.add(id(m))
        for name, refs in m.references.items():
            if name == "UPDATE_OPS" or name == "update_ops":
                for r in refs:
                    p = m.parent(r)
                    if not (isinstance(p, ast.Call) and p.func is not r and (m.imports.resolve(p.func) or "").endswith(("get_collection", "get_collection_ref"))):
                        if name == "UPDATE_OPS":
                            ctx.other_update_refs += 1
                            ctx.other_update_ref_modules.add(id(m))
        names = list(m.references) + [f.name for f in m.functions] + [c.name for c in m.classes]
        if mentions_deliberate_batch_stats(names + re.split(r"[/\\.]", project.relative_path(m))):
            ctx.deliberate_batch_stats = True
            ctx.deliberate_modules.add(id(m))
    ctx.calls_by_scope, ctx.methods_by_class = calls_by_scope, methods_by_class
    # Forward reachability, starting from every call in a training module and in the modules
    # that call into one (``train_net.py`` builds the network and hands it to ``train.py``).
    work = []
    for m in project.modules:
        if id(m) in ctx.trained_modules:
            for root in _with_callers(m, project):
                work.extend((_call_ref(c, project), root) for c in root.calls if c.name)
    _close(work, ctx.reachable, ctx, project)
    return ctx


def _eager_branch_only(c: CallSite) -> bool:
    """A ``GradientTape`` on the eager branch of ``if tf.executing_eagerly(): ... else: ...``: code
    written for both modes, whose graph branch still builds a TF1 train op."""
    m = c.module
    child: ast.AST = c.node
    for anc in m.ancestors(c.node):
        if isinstance(anc, ast.If) and anc.orelse and any(st is child for st in anc.body) \
                and isinstance(anc.test, ast.Call) and (dotted(anc.test.func) or "").endswith("executing_eagerly"):
            return True
        child = anc
    return False


def _call_ref(c: CallSite, project: Optional[Project] = None) -> tuple:
    """(called name, kind): "name" for ``f()``, "module" for ``pkg.f()`` on an import, ("in", id of
    the module) for ``net.f()`` when the import names one project module that defines ``f`` itself
    (with ``project``), ("self", class) for ``self.f()`` in a method, "attr" else."""
    f = c.node.func
    if isinstance(f, ast.Name):
        if project is not None and c.scope is not None and _local_value(c.name, c.module):
            owner = _parameter_owner(c)
            if owner is not None:
                return c.name, ("arg", owner)
        return c.name, "name"
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "self":
        cls = _method_class(c.scope, c.module)
        if cls is not None:
            return c.name, ("self", cls)
    base = dotted(f.value) if isinstance(f, ast.Attribute) else None
    if base is not None and base.split(".")[0] in c.module.imports.aliases:
        # ``pkg.f()``: a project module's function, or a library's (never a project function)
        if not _imports_project_module(c.module, base):
            return c.name, "external"
        home = _defining_module(c, project) if project is not None else None
        return c.name, ("in", id(home)) if home is not None else "module"
    return c.name, "attr"


def _defining_module(c: CallSite, project: Project) -> Optional[Module]:
    """For ``net.f()`` on an imported project module: that module when it defines ``f`` at its top
    level (two experiments' ``net.py`` each define ``inference``: the import next to the caller
    settles which one runs); None when the import is not settled or the name comes from elsewhere."""
    mod = project.attribute_module(c.module, c.node.func)
    if mod is None or mod is c.module:
        return None
    return mod if c.name in _top_level_names(mod.tree) else None


@per_node
def _top_level_names(tree: ast.AST) -> frozenset:
    """Names of the functions and classes a module defines at its top level (also under a
    module-level ``if``/``try``/``with``)."""
    out = set()
    todo = list(getattr(tree, "body", ()))
    while todo:
        st = todo.pop()
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(st.name)
        elif isinstance(st, (ast.If, ast.Try, ast.With, ast.AsyncWith)):
            for field_name in ("body", "orelse", "finalbody"):
                todo.extend(getattr(st, field_name, ()))
            for h in getattr(st, "handlers", ()):
                todo.extend(h.body)
    return frozenset(out)


def _parameter_owner(c: CallSite) -> Optional[ast.AST]:
    """For a plain ``name(...)`` call of a parameter (``def __init__(self, model_fn): model_fn(x)``),
    the function whose parameter it is (the innermost enclosing one binding the name); else None."""
    scope = c.scope
    name = c.name
    while isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
        a = scope.args
        if any(x.arg == name for x in a.posonlyargs + a.args + a.kwonlyargs):
            return scope
        scope = c.module.scope_of(scope)
    return None


def _bound_callables(param: str, fn: ast.AST, m: Module, project: Project) -> list:
    """Work items of ``_close`` for the functions that the callers of ``fn`` pass for its parameter
    ``param``: ``Trainer(build_net, cfg)`` hands ``build_net`` to ``__init__(self, model_fn, cfg)``,
    whose ``model_fn(x)`` then builds that network. Names and ``module.f`` references; the
    parameter's default when a caller leaves it out."""
    if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return []
    cls = m.enclosing_class(fn)
    is_method = cls is not None and fn in cls.body
    if is_method and fn.name == "__init__":
        calls = [c for c in project.call_sites(cls.name) if call_may_reach(c, m, project)]
    elif is_method:
        calls = [c for c in project.call_sites(fn.name) if isinstance(c.node.func, ast.Attribute)]
    else:
        calls = [c for c in project.call_sites(fn.name) if call_may_reach(c, m, project)]
    out = []
    for c in calls[:200]:
        arg, _explicit = kf.argument_for(c.node, fn, param, is_method_call=is_method)
        where = c.module if _explicit else m
        if isinstance(arg, ast.Call) and arg.args and (dotted(arg.func) or "").endswith("partial"):
            arg = arg.args[0]  # ``functools.partial(build_net, num_classes=3)``
        if isinstance(arg, ast.Name):
            out.append(((arg.id, "name"), where))
        elif isinstance(arg, ast.Attribute):
            home = project.attribute_module(where, arg)
            if home is not None and arg.attr in _top_level_names(home.tree):
                out.append(((arg.attr, ("in", id(home))), where))
            else:
                out.append(((arg.attr, "attr"), where))
    return out


def _stored_callables(attr: str, cls: ast.ClassDef, m: Module, project: Project) -> list:
    """Work items of ``_close`` for ``self.<attr>(...)`` in a class with no method ``attr``: what its
    methods store in ``self.<attr>`` (``self.net_fn = net_fn`` with ``net_fn`` a parameter: the
    functions the callers pass; ``self.net_fn = build_net``: that function)."""
    out = []
    for fn in cls.body:
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for a in single_attribute_stores(fn).get(attr, ()):
            v = a.value
            if isinstance(v, ast.Name):
                params = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
                if any(x.arg == v.id for x in params):
                    out.extend(_bound_callables(v.id, fn, m, project))
                else:
                    out.append(((v.id, "name"), m))
            elif isinstance(v, ast.Attribute):
                home = project.attribute_module(m, v)
                if home is not None and v.attr in _top_level_names(home.tree):
                    out.append(((v.attr, ("in", id(home))), m))
    return out


@per_node
def single_attribute_stores(fn: ast.AST) -> dict:
    """``self.<attr> = value`` statements in a method: attr -> the assignments."""
    out: dict = {}
    for n in astwalk.walk(fn):
        if isinstance(n, ast.Assign) and len(n.targets) == 1:
            t = n.targets[0]
            if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                out.setdefault(t.attr, []).append(n)
    return out


def _local_value(name: str, m: Module) -> bool:
    """Is a plain ``name(...)`` call in ``m`` a call of a value the module neither imports nor
    defines at its top level (a parameter, a variable: ``def __init__(self, model_fn): model_fn(x)``)?"""
    return name not in m.imports.aliases and name not in _top_level_names(m.tree)


def call_may_reach(c: CallSite, target: Module, project: Project) -> bool:
    """Can the call ``c`` run the top-level function (or class) of its name that ``target`` defines?
    No when the callee is read from another project module that defines or imports that name
    (``net.inference`` with ``import net`` naming the ``net.py`` beside the caller, ``from b import
    inference``), when the calling module defines the name itself, or when the callee is a local
    value (a parameter ``model_fn``, a variable) of a module that no chain of project imports links
    to ``target``: a function object reaches a parameter only through code that imports or defines it."""
    m = c.module
    if m is target:
        return True
    f = c.node.func
    if isinstance(f, ast.Name):
        if f.id in m.imports.aliases:
            return project.imports_name_from(m, f.id, target)
        if not _local_value(f.id, m):
            return False  # the module's own top-level ``f``
        return id(target) in project.import_component(m)
    return project.attribute_may_name(m, f, target)


def _method_class(scope, module: Module) -> Optional[ast.ClassDef]:
    """The class whose method binds ``self`` at ``scope``: the method itself, or the method around a
    nested helper (``def gp_loss(...)`` in ``build()`` closes over ``self``)."""
    while isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        cls = module.enclosing_class(scope)
        if cls is not None and scope in cls.body:
            return cls
        if any(a.arg == "self" for a in scope.args.args + scope.args.kwonlyargs):
            return None  # a nested function with its own ``self``
        scope = module.scope_of(scope)
    return None


def _class_family(cls: ast.ClassDef, project: Project) -> set[str]:
    """Names of the project classes whose methods ``self.f()`` in ``cls`` may run: ``cls``, its
    bases and its subclasses (an override), transitively. Every model class of a GAN collection
    has its own ``generator``: ``self.generator()`` of a BN-free model does not build another
    model's BN layers."""
    bases, children, families = project.fact("tf1.class_bases", _class_bases)
    family = families.get(cls.name)  # asked per call site: one walk per class name
    if family is not None:
        return family
    ancestors, work = {cls.name}, [cls.name]
    while work:  # up: a base's method runs when this class does not override it
        for b in bases.get(work.pop(), ()):
            if b not in ancestors:
                ancestors.add(b)
                work.append(b)
    descendants, work = {cls.name}, [cls.name]
    while work:  # down: a subclass may override the method (template methods of a base model)
        for k in children.get(work.pop(), ()):
            if k not in descendants:
                descendants.add(k)
                work.append(k)
    family = families[cls.name] = ancestors | descendants
    return family


def _class_bases(p: Project) -> tuple[dict, dict, dict]:
    bases: dict[str, set[str]] = defaultdict(set)
    children: dict[str, set[str]] = defaultdict(set)
    for m in p.modules:
        for k in m.classes:
            for b in k.bases:
                d = dotted(b)
                if d:
                    bases[k.name].add(d.rsplit(".", 1)[-1])
                    children[d.rsplit(".", 1)[-1]].add(k.name)
    return bases, children, {}


def _imports_project_module(m: Module, base: str) -> bool:
    known = _project_module_bases(m.tree)  # asked once per call site: same answer per base
    if base not in known:
        target = m.imports.resolve_dotted(base) or base
        known[base] = not target.split(".")[0] in ("tensorflow", "tf_slim", "numpy", "keras", "torch", "jax")
    return known[base]


@per_node
def _project_module_bases(tree: ast.AST) -> dict[str, bool]:
    return {}


def _imports_module(m: Module, other: Module, project: Optional[Project] = None) -> bool:
    """Does ``m`` import ``other`` (by any spelling that ends with its module name)? With ``project``:
    not when the import resolves to another module of that name (``import net`` names the ``net.py``
    beside ``m``, not another experiment's)."""
    tail = other.module_name.rsplit(".", 1)[-1]
    names = set(m.imports.aliases.values()) | m.imports.imported_modules
    if not any(n == tail or n.endswith("." + tail) or ("." + tail + ".") in n or n.startswith(tail + ".")
               or n.lstrip(".").startswith(tail) for n in names):
        return False
    if project is not None:
        linked = _import_graph(project)["imports"].get(id(m), ())
        if any(o is other for o in linked):
            return True
        if any(o.module_name.rsplit(".", 1)[-1] == tail for o in linked):
            return False  # the import is settled on a same-named module elsewhere
    return True


def _with_callers(module: Module, project: Project) -> list:
    """``module`` and the modules that call a top-level function or class it defines."""
    out = [module]
    seen = {id(module)}
    names = {f.name for f in module.functions if f.cls is None and module.scope_of(f.node) is None}
    names |= {c.name for c in module.classes if module.scope_of(c) is None}
    not_importing: set[int] = set()
    for name in names:
        for site in project.call_sites(name):
            m = site.module
            if id(m) in seen or id(m) in not_importing or any(f.name == name for f in m.functions if f.cls is None):
                continue
            if not _imports_module(m, module, project):
                not_importing.add(id(m))
                continue
            seen.add(id(m))
            out.append(m)
    return out


def _close(work: list, seen: set, ctx: TrainContext, project: Project) -> None:
    """Add to ``seen`` the ids of every function reachable from the (name, calling module) pairs.

    A name called in a module that defines a function of that name is that function (separate
    scripts of one repository often reuse ``generator``/``build``); otherwise every project
    function of that name may be meant (imports, methods)."""
    done: set = set()
    while work:
        (name, kind), from_module = work.pop()
        if kind == "external":
            continue
        # the targets depend on the calling module only for a plain ``f()``: a pair already
        # expanded adds nothing to ``seen`` (popular names are called from thousands of sites)
        done_key = (name, kind, id(from_module) if kind == "name" else None)
        if done_key in done:
            continue
        done.add(done_key)
        candidates = project.functions(name)
        tag = kind[0] if isinstance(kind, tuple) else kind
        within = tag == "in"
        if tag == "arg":  # ``model_fn(x)`` on a parameter: the functions its callers pass for it
            work.extend(_bound_callables(name, kind[1], from_module, project))
            kind = "name"
        if within:  # ``net.f()`` on the imported project module that defines ``f``: that one only
            targets = [f for f in candidates if f.cls is None and id(f.module) == kind[1]]
        elif isinstance(kind, tuple):  # ``self.f()``: the method of this class's family, if it has one
            family = _class_family(kind[1], project)
            targets = [f for f in candidates if f.cls is not None and f.cls.name in family]
            if not targets:
                # ``self.model_fn = model_fn`` in ``__init__``: the functions handed to the constructor
                work.extend(_stored_callables(name, kind[1], from_module, project))
                targets = candidates
        elif kind == "attr":  # ``obj.f()``: a method (of a class we cannot tell)
            targets = candidates
        else:  # ``f()`` / ``module.f()``: a plain function, this module's own if it has one
            plain = [f for f in candidates if f.cls is None]
            if kind == "name" and _local_value(name, from_module):
                # a parameter or variable: only a function of the modules linked to this one by
                # imports can be handed to it
                program = project.import_component(from_module)
                plain = [f for f in plain if id(f.module) in program]
            targets = [f for f in plain if f.module is from_module] if kind == "name" else []
            if not targets and kind == "name":
                # ``from .common import batchnorm``: that module's function, not every project
                # function of the name (a test script's own ``batchnorm``)
                targets = [f for f in plain if project.imports_name_from(from_module, name, f.module)]
            targets = targets or plain
        methods = ctx.methods_by_class.get(name, ()) if kind in ("name", "module") or within else ()  # ``Model(...)`` runs its methods
        if within:
            methods = [f for f in methods if id(f.module) == kind[1]]
        elif methods and kind == "name":
            if _local_value(name, from_module):
                program = project.import_component(from_module)
                methods = [f for f in methods if id(f.module) in program]
            else:  # ``Trainer(model, sess)``: this module's own class, or the one it imports
                methods = [f for f in methods if f.module is from_module] or [
                    f for f in methods if project.imports_name_from(from_module, name, f.module)]
        if kind != "name" and kind != "module" and not within:
            # a method of a class nothing constructs (nor any subclass of it) never runs: a
            # ``Network`` base's ``self._build()`` reaches only the subclasses the project builds
            targets = [f for f in targets if f.cls is None or _class_constructed(f.cls.name, project)]
        for f in list(targets) + list(methods):
            if id(f.node) in seen:
                continue
            seen.add(id(f.node))
            work.extend((_call_ref(c, project), f.module) for c in ctx.calls_by_scope.get(id(f.node), ()))


def _class_constructed(name: str, project: Project) -> bool:
    """May the project class ``name`` (or a subclass of it) be constructed: it is called, read other
    than as a base class (a registry dict, a factory returning it, ``getattr``), or named in a
    string (``__all__``, ``globals()[name]``)? Text in comments does not count: a commented-out
    ``net = resnetv1(...)`` builds nothing."""
    return name in project.fact("tf1.constructed_classes", _constructed_classes)


def _constructed_classes(project: Project) -> set:
    import re

    bases, children, _families = project.fact("tf1.class_bases", _class_bases)
    classes = {k.name for m in project.modules for k in m.classes}
    live = {n for n in classes if project.call_sites(n)}
    quoted = re.compile(r"""['"]([A-Za-z_]\w*)['"]""")
    for m in project.modules:
        rest = classes - live
        if not rest:
            break
        live |= rest & set(quoted.findall(m.unit.text))
        for n in rest & m.references.keys():
            for r in m.references[n]:
                parent = m.parent(r)
                # ``super(Net, self)`` inside the class itself constructs nothing
                if not (isinstance(parent, ast.ClassDef) and r in parent.bases) and not any(
                        isinstance(a, ast.ClassDef) and a.name == n for a in m.ancestors(r)):
                    live.add(n)
                    break
    work = list(live)  # a constructed subclass runs its bases' methods
    while work:
        for b in bases.get(work.pop(), ()):
            if b not in live:
                live.add(b)
                work.append(b)
    return live


def _imported_project_modules(m: Module, project: Project) -> list[Module]:
    """The project modules ``m`` imports (``import pkg.mod``, ``from mod import f``, ``from . import
    mod``). A name that several modules share and the importer's location does not settle links to
    all of them (when in doubt, the modules belong together)."""
    out: dict[int, Module] = {}
    for target in set(m.imports.aliases.values()) | m.imports.imported_modules:
        t = target.lstrip(".")
        while t:
            if project.modules_named(t):
                one = project.module_named(t, m)
                for o in ([one] if one is not None else project.modules_named(t)):
                    if o is not m:
                        out[id(o)] = o
                break
            t = t.rpartition(".")[0]
    return list(out.values())


def same_program(module: Module, project: Project) -> set[int]:
    """Ids of the modules that run in one program with ``module``: what it imports (transitively),
    the modules that import it (transitively) and everything those import. Two scripts of one
    repository that merely share a helper module are separate programs: an UPDATE_OPS consumer in
    one does not wire the other's train op."""
    graph = _import_graph(project)
    memo: dict = project.fact("tf1.same_program.memo", lambda p: {})  # asked per BN site and train op
    found = memo.get(id(module))
    if found is None:
        roots = _closure([module], graph["importers"])
        found = memo[id(module)] = set(_closure(list(roots.values()), graph["imports"]))
    return found


def _import_graph(project: Project) -> dict:
    def compute(p: Project) -> dict:
        imports = {id(m): _imported_project_modules(m, p) for m in p.modules}
        importers: dict[int, list[Module]] = defaultdict(list)
        for m in p.modules:
            for o in imports[id(m)]:
                importers[id(o)].append(m)
        return {"imports": imports, "importers": importers}
    return project.fact("tf1.import_graph", compute)


def _closure(starts: list[Module], edges: dict) -> dict[int, Module]:
    seen = {id(s): s for s in starts}
    work = list(starts)
    while work:
        for o in edges.get(id(work.pop()), ()):
            if id(o) not in seen:
                seen[id(o)] = o
                work.append(o)
    return seen


def deliberate_in_program(module: Module, project: Project) -> bool:
    """Does the program of ``module`` (see ``same_program``) name a GAN / meta-learning / test-time
    adaptation setting? Another script of the repository (a pix2pix demo next to a classifier) does
    not make this one deliberate.

    Asked of every module, so answered from one set instead of one program per module: a deliberate
    module D is in the program of M (``imports*(importers*(M))``) exactly when some root R imports D
    and M (transitively), i.e. when M is in ``imports*(importers*(deliberate modules))``."""
    ctx = train_context(project)
    if not ctx.deliberate_modules:
        return False

    def compute(p: Project) -> set:
        graph = _import_graph(p)
        starts = [m for m in p.modules if id(m) in ctx.deliberate_modules]
        roots = _closure(starts, graph["importers"])
        return set(_closure(list(roots.values()), graph["imports"]))
    return id(module) in project.fact("tf1.deliberate_programs", compute)


def reachable_from(module: Module, project: Project) -> set:
    """Ids of the functions reachable from the calls of one module (computed for train-op modules
    only, which are few)."""
    def compute(p: Project) -> set:
        seen: set = set()
        work = [(_call_ref(c, p), root) for root in _with_callers(module, p) for c in root.calls if c.name]
        _close(work, seen, train_context(p), p)
        return seen
    return project.fact(f"tf1.reachable_from:{id(module)}", compute)


def enclosing_functions(node: ast.AST, module: Module) -> list:
    """Function nodes enclosing ``node``, innermost first (lambdas skipped)."""
    out = []
    scope = module.scope_of(node)
    while scope is not None:
        if not isinstance(scope, ast.Lambda):
            out.append(scope)
        scope = module.scope_of(scope)
    return out


def site_in_graph_of(site: BNSite, module: Module, project: Project) -> bool:
    """Is the BN ``site`` built by code that ``module`` runs (same module, or reachable calls)?"""
    if site.module is module:
        return True
    reached = reachable_from(module, project)
    return any(id(f) in reached for f in enclosing_functions(site.node, site.module))


GRAPH_RESETS = {"tensorflow.reset_default_graph", "tensorflow.compat.v1.reset_default_graph"}


def top_level_graph_sites(node: ast.AST, module: Module, project: Project, sites: list) -> Optional[list]:
    """The BN ``sites`` of the default graph a module-level statement at ``node`` builds into, when the
    module's top level calls ``tf.reset_default_graph()`` (a notebook's parts, a script's stages):
    each reset starts a new graph, so only the layers built by the top-level statements between the
    reset before ``node`` and the next one are in it — built there directly, or by functions those
    statements call. A top-level call runs the definition of its name made BEFORE it (a later
    ``def`` of the same name, part 2's BN ``encoder``, is not the part-1 ``encoder`` it calls).
    None when ``node`` is not at the module level or the module resets no graph there."""
    graph = _top_level_graph(node, module, project)
    if graph is None:
        return None
    return [s for s in sites if _in_top_level_graph(s.node, s.module, module, graph)]


def trained_in_top_level_graph(node: ast.AST, module: Module, project: Project) -> Optional[bool]:
    """For a module-level ``node`` of a module that resets the default graph at its top level: does a
    train op of that graph (see ``top_level_graph_sites``) exist? None when not such a node."""
    graph = _top_level_graph(node, module, project)
    if graph is None:
        return None
    return any(_in_top_level_graph(op.node, op.module, module, graph) for op in train_context(project).train_ops)


def _in_top_level_graph(node: ast.AST, m: Module, module: Module, graph: tuple) -> bool:
    start, end, seen = graph
    if m is module and module.scope_of(node) is None:
        return start <= node.lineno < end
    return any(id(f) in seen for f in enclosing_functions(node, m))


def _top_level_graph(node: ast.AST, module: Module, project: Project) -> Optional[tuple]:
    """(first line, end line, ids of the functions the top-level statements in between run) of the
    graph segment around a module-level ``node``; None when there is no reset at the top level."""
    if module.scope_of(node) is not None or not module.mentions("reset_default_graph"):
        return None
    body = set(map(id, module.tree.body))
    resets = sorted(k.node.lineno for k in module.calls if k.scope is None and k.qualname in GRAPH_RESETS
                    and isinstance(module.parent(k.node), ast.Expr) and id(module.parent(k.node)) in body)
    if not resets:
        return None
    line = node.lineno
    start = max((r for r in resets if r <= line), default=0)
    end = min((r for r in resets if r > line), default=float("inf"))
    memo = project.fact("tf1.top_level_graph.memo", lambda p: {})
    key = (id(module), start)
    if key in memo:
        return memo[key]
    ctx = train_context(project)
    defs: dict = defaultdict(list)
    for st in module.tree.body:
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            defs[st.name].append(st)
    seen: set = set()
    work = []
    # (call, line of the top-level statement that runs it): a plain ``f()`` of this module's own
    # top-level function runs the last ``def f`` made before that statement
    stack = [(k, k.node.lineno) for k in module.calls
             if k.scope is None and k.name and start <= k.node.lineno < end]
    while stack:
        k, at = stack.pop()
        ref = _call_ref(k, project)
        if ref[1] == "name" and k.module is module and k.name in defs:
            before = [d for d in defs[k.name] if d.lineno < at]
            if before and id(before[-1]) not in seen:
                seen.add(id(before[-1]))
                stack.extend((c, at) for c in ctx.calls_by_scope.get(id(before[-1]), ()))
            continue
        work.append((ref, k.module))
    _close(work, seen, ctx, project)
    memo[key] = (start, end, seen)
    return memo[key]


def enclosing_names(node: ast.AST, module: Module) -> list[str]:
    """Names of the functions (and their classes) enclosing ``node``, innermost first."""
    out = []
    scope = module.scope_of(node)
    while scope is not None:
        if not isinstance(scope, ast.Lambda):
            out.append(scope.name)
            cls = module.enclosing_class(scope)
            if cls is not None and module.scope_of(cls) is module.scope_of(scope):
                out.append(cls.name)
        scope = module.scope_of(scope)
    return out


def is_trained(site_node: ast.AST, module: Module, project: Project) -> bool:
    """Is the graph this node belongs to trained (built by code reachable from a train op)?"""
    ctx = train_context(project)
    if id(module) in ctx.trained_modules:
        return True
    return any(id(f) in ctx.reachable for f in enclosing_functions(site_node, module))


def fresh_session(site_node: ast.AST, module: Module, project: Project) -> bool:
    """The module initialises all variables from scratch and nothing in the project restores any:
    BN statistics frozen at their initial 0/1 are then never correct (the classic fragment)."""
    ctx = train_context(project)
    if id(module) not in ctx.initializer_modules:
        return False
    program = same_program(module, project)  # another script's restore says nothing about this graph
    return not any(id(r.module) in program for r in ctx.restores)


def restored_for_inference(module: Module, project: Project) -> bool:
    """Is ``module`` a model definition that only restore-and-predict code uses? It trains and
    initialises nothing itself, other modules import it, and every use of what they import from it
    is a call made in a function that restores a checkpoint (``saver.restore(sess, path)``, not under
    an ``if``), builds no train op and initialises no variable itself, and calls no project function
    that builds a train op on the model's variables. The graph's BN statistics then all come from the
    checkpoint (a published, already trained model re-implemented to be restored and attacked or
    evaluated), and a hard-coded inference flag is right. A value use (``model_fn=build``, a subclass,
    a star import) or a caller that trains keeps the module trained."""
    return project.fact(f"tf1.restored_for_inference:{id(module)}",
                        lambda p: _compute_restored_for_inference(module, p))


def _compute_restored_for_inference(module: Module, project: Project) -> bool:
    ctx = train_context(project)
    if id(module) in ctx.trained_modules or id(module) in ctx.initializer_modules:
        return False
    importers = _import_graph(project)["importers"].get(id(module), [])
    if not importers:
        return False
    checked: set = set()
    for o in importers:
        name_aliases, module_aliases = set(), set()
        for local, target in o.imports.aliases.items():
            if project.module_named(target, o) is module:
                module_aliases.add(local)
            elif project.module_named(target.rpartition(".")[0], o) is module:
                name_aliases.add(local)
        if any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
               and n.module and project.module_named(("." * n.level) + n.module, o) is module
               for n in o.nodes_of_kind.get(ast.ImportFrom, ())):
            return False
        calls = [c for c in o.calls if isinstance(c.node.func, ast.Name) and c.node.func.id in name_aliases]
        for a in module_aliases:
            for r in o.references.get(a, ()):
                parent = o.parent(r)
                call = o.parent(parent) if isinstance(parent, ast.Attribute) else None
                if not (isinstance(call, ast.Call) and call.func is parent):
                    return False  # the module itself handed on, or a value taken from it
                calls.extend(c for c in o.calls if c.node is call)
        if any(o.references.get(a) for a in name_aliases):
            return False  # a class subclassed, a builder passed as a value
        if not calls:
            return False  # imported and not called: re-exported (``__init__.py``) to users not seen here
        for c in calls:
            key = (id(o), id(c.scope))
            if key not in checked:
                if not _restores_without_training(c.scope, o, project):
                    return False
                checked.add(key)
    return bool(checked)


_INFERENCE_RESTORES = frozenset({"restore", "init_from_checkpoint", "assign_from_checkpoint_fn",
                                 "assign_from_checkpoint", "load_weights"})
_TRAINING_CALLS = TRAIN_OP_METHODS | UPDATE_WIRING_NAMES | {"fit", "fit_generator", "train_on_batch"}


def _restores_without_training(scope, m: Module, project: Project) -> bool:
    """Does the function ``scope`` restore a checkpoint unconditionally, and build no train op,
    initialise no variable and reach no project function that builds a train op?"""
    if not isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    own = [c for c in m.calls if c.scope is scope]
    restored = False
    for c in own:
        if c.name in _TRAINING_CALLS or (c.qualname or "") in INIT_QUALNAMES:
            return False
        if c.name in _INFERENCE_RESTORES and isinstance(c.node.func, ast.Attribute) and c.node.args \
                and not any(isinstance(a, (ast.If, ast.IfExp, ast.Try, ast.For, ast.While))
                            for a in m.ancestors_until(c.node, scope)):
            restored = True
    if not restored:
        return False
    reached: set = set()
    _close([(_call_ref(c, project), m) for c in own if c.name and not library_receiver(c, project)],
           reached, train_context(project), project)
    # Only a function of this program can run: names reach every same-named function of the project.
    program = same_program(m, project)
    trainers = _model_training_scopes(project)
    return not any(trainers[f] in program for f in reached if f in trainers)


def _model_training_scopes(project: Project) -> dict:
    """Ids of the functions (-> their module's id) that build a train op that may train a model: ``opt.minimize(loss)``
    trains every trainable variable. Not counted: a train op restricted to variables listed in a
    display (``minimize(loss, var_list=[perturbation])``, an attack optimising its input
    perturbation), nor one whose loss is a function defined in the same function (a hand-written
    optimiser object's ``minimize(loss_fn, ...)``; a TF1 graph-mode train op takes a tensor)."""
    def compute(p: Project) -> dict:
        out: dict = {}  # function id -> its module's id
        for c in train_context(p).train_ops:
            if c.scope is None or isinstance(c.scope, ast.Lambda):
                continue
            if isinstance(_kw(c.node, "var_list"), (ast.List, ast.Tuple)):
                continue
            loss = c.node.args[0] if c.node.args else _kw(c.node, "loss")
            if isinstance(loss, ast.Name) and any(
                    isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and getattr(n, "name", None) == loss.id
                    for n in astwalk.walk(c.scope)):
                continue
            out[id(c.scope)] = id(c.module)
        return out
    return project.fact("tf1.model_training_scopes", compute)


_LIBRARY_ROOTS = ("tensorflow.", "keras.", "tf_keras.", "tf_slim.", "numpy.")


def _calls_bound_to_names(m: Module) -> dict[str, list[tuple[int, ast.Call]]]:
    """name -> (line, call) for every ``name = f(...)`` and ``with f(...) as name`` of ``m``."""
    out: dict[str, list[tuple[int, ast.Call]]] = {}
    for a in m.assignments:
        if isinstance(a, ast.Assign) and isinstance(a.value, ast.Call):
            for name in dict.fromkeys(t.id for t in a.targets if isinstance(t, ast.Name)):
                out.setdefault(name, []).append((a.lineno, a.value))
    for b in m.blocks:
        if isinstance(b, (ast.With, ast.AsyncWith)):
            for i in b.items:
                if isinstance(i.optional_vars, ast.Name) and isinstance(i.context_expr, ast.Call):
                    out.setdefault(i.optional_vars.id, []).append((i.context_expr.lineno, i.context_expr))
    return out


def library_receiver(c: CallSite, project: Project) -> bool:
    """Is the receiver of the method call ``c`` an object that only a library constructor creates:
    ``ema.apply(...)`` where every binding of ``ema`` in the calling function is a call such as
    ``tf.train.ExponentialMovingAverage(...)`` (or ``with tf.Session() as sess``), or
    ``self._ema.apply(...)`` where every store of the attribute ``_ema`` in the project
    (``self._ema = moving_averages.ExponentialMovingAverage(...)``) is one? The method that runs is
    then the library's, never a project function of the same name."""
    f = c.node.func
    if not isinstance(f, ast.Attribute):
        return False
    def library_call(value, m: Module) -> bool:
        return isinstance(value, ast.Call) and (m.imports.resolve(value.func) or "").startswith(_LIBRARY_ROOTS)
    recv = f.value
    # Asked once per call of every BN builder's name (hundreds of thousands in a framework's
    # sources): answers are kept per (scope, name) and per attribute.
    known: dict = project.fact("tf1.library_receivers", lambda p: {})
    if isinstance(recv, ast.Name):
        if recv.id in c.module.imports.aliases:
            return False  # a module (``layers.dense``), not an object
        mkey = ("module", id(c.module))
        if mkey not in known:
            known[mkey] = _calls_bound_to_names(c.module)
        bindings = known[mkey].get(recv.id)
        if not bindings:
            return False  # a parameter, a loop variable...: nothing in the module builds it
        scope = c.scope if c.scope is not None else c.module.tree
        key = (id(scope), recv.id)
        if key not in known:
            if scope is c.module.tree:
                built = [call for _, call in bindings]
            else:  # the bindings written inside the function (nested blocks and functions included)
                first, last = scope.lineno, getattr(scope, "end_lineno", None) or scope.lineno
                built = [call for line, call in bindings if first <= line <= last]
            known[key] = bool(built) and all(library_call(b, c.module) for b in built)
        return known[key]
    if isinstance(recv, ast.Attribute) and isinstance(recv.value, ast.Name) and recv.value.id == "self":
        key = ("self", recv.attr)
        if key not in known:
            stores = V.resolver(project).attr_stores.get(recv.attr, [])
            known[key] = bool(stores) and all(library_call(v, m) for v, m in stores)
        return known[key]
    return False


# --- values fed to placeholders -------------------------------------------------------------------
@dataclass
class _FeedEntry:
    key: Optional[ast.AST]  # None: a tensor-name key (``'is_training:0'``)
    key_name: Optional[str]  # last name of a Name/Attribute key, or the op name of a tensor-name key
    value: Optional[ast.AST]  # None: the value cannot be read (``d[k] += ...``)
    module: Module
    dynamic: bool = False  # ``feed[k] = v``: built key by key, often in a loop over placeholders


# Why a module's feed dicts may hold keys no display shows (``values.FeedSources``); a ``dict({...})``
# of a display adds nothing the display does not show.
_OPAQUE_FEEDS = frozenset({"comprehension", "dict_call", "update_call"})


def _feed_entries(project: Project) -> tuple[list[_FeedEntry], dict[int, set[str]], set[int]]:
    """The feed sources of ``values.feed_sources`` as the fed-value resolver reads them: every
    (key, value) pair whose key may be a placeholder (a tensor, or a tensor name such as
    ``'is_training:0'``; ``{"is_training": ...}`` is a config), the names each module puts in
    list/tuple displays, and the modules that build feed dicts opaquely (``dict(zip(...))``, a
    comprehension): with both in one program, a placeholder with one of those names may be fed
    any value."""
    def compute(p: Project):
        sources = V.feed_sources(p)
        entries: list[_FeedEntry] = []
        for e in sources.entries:
            k = e.key
            value = e.value if e.origin in ("dict", "item", "setdefault") else None
            if isinstance(k, ast.Constant) and isinstance(k.value, str):
                if ":" in k.value:
                    entries.append(_FeedEntry(None, k.value.split(":")[0].rsplit("/", 1)[-1], value, e.module))
            elif isinstance(k, (ast.Name, ast.Attribute)):
                name = k.id if isinstance(k, ast.Name) else k.attr
                entries.append(_FeedEntry(k, name, value, e.module, e.origin != "dict"))
        opaque = {mid for mid, why in sources.opaque_by_module.items() if why & _OPAQUE_FEEDS}
        return entries, sources.listed_by_module, opaque
    return project.fact("tf1.feed_entries", compute)


def fed_values(ph: V.Placeholder, project: Project):
    """(values, feed entries) of everything ``ph``'s program may feed to it — matched by identity,
    by the variable/attribute names it is bound to or by its tensor name (so a same-named flag of
    another module of the program adds its feeds too: more values, never fewer). Values are UNKNOWN when some
    feed's value cannot be resolved or an opaque feed dict may hold it; ``frozenset()`` with no
    entries when nothing feeds it."""
    entries, listed_by_module, opaque_modules = _feed_entries(project)
    # Only a feed of the placeholder's own program can reach it: another script's same-named
    # ``is_training`` lives in another graph (and another process).
    program = same_program(ph.module, project)
    if opaque_modules & program and any(ph.names & listed_by_module.get(i, set()) for i in program):
        return V.UNKNOWN, []
    out: object = frozenset()
    found = []
    for e in entries:
        if id(e.module) not in program:
            continue
        if e.key is None:
            match = e.key_name == ph.tensor_name or (ph.tensor_name is None and e.key_name in ph.names)
        elif e.key_name in ph.names:
            match = True
        else:
            keys = V.possible_values(e.key, e.module, project)
            if keys is V.UNKNOWN and (e.dynamic or _flag_like(e.key_name)):
                return V.UNKNOWN, []  # ``feed[ph] = v`` over a list, ``{phase: ...}``: may be this flag
            match = keys is not V.UNKNOWN and ph in keys
        if not match:
            continue
        found.append(e)
        vals = V.possible_values(e.value, e.module, project) if e.value is not None else V.UNKNOWN
        out = V.UNKNOWN if vals is V.UNKNOWN or out is V.UNKNOWN else out | vals
    return out, found


def _flag_like(name: Optional[str]) -> bool:
    words = identifier_words(name or "")
    return any(w.startswith(("train", "phase", "mode", "bn", "flag")) for w in words) or name in FLAG_NAMES


# --- the feed of one run ----------------------------------------------------------------------------
# A resolved feed dict is a list of alternatives (the shapes it can have at that run); each
# alternative is a list of (key expression, key module, possible values) in insertion order.
_MAX_FEED_ALTERNATIVES = 16


def run_feed(run: ast.Call, module: Module, project: Project) -> Optional[ast.AST]:
    """The ``feed_dict`` expression of ``sess.run(fetches, feed_dict)`` / ``tensor.eval(feed_dict=...)``."""
    for kw in run.keywords:
        if kw.arg == "feed_dict":
            return kw.value
    if isinstance(run.func, ast.Attribute) and run.func.attr == "run" and len(run.args) > 1:
        return run.args[1]
    return None


def flag_at_run(ph: V.Placeholder, run: ast.Call, module: Module, project: Project):
    """What placeholder ``ph`` holds at this ``sess.run``: the value its feed dict gives it — a dict
    display, a name bound to one, or what a project helper returns (``make_feed(batch, True)``, its
    parameters bound to this call's arguments) — or its default when the feed leaves it out.
    UNKNOWN when the feed cannot be read, a key we cannot tell apart may be this placeholder, or a
    plain placeholder is not fed (the run needs no flag, or fails)."""
    feed = run_feed(run, module, project)
    alternatives = [[]] if feed is None else _feed_alternatives(feed, module, project, V.possible_values, 0)
    if alternatives is None:
        return V.UNKNOWN
    out: object = frozenset()
    for entries in alternatives:
        held = None
        for key, key_module, values in entries:
            match = _key_is(ph, key, key_module, project)
            if match is None:
                return V.UNKNOWN
            if match:
                held = values  # a later entry of a display overrides an earlier one
        if held is None:
            held = ph.default if ph.has_default else V.UNKNOWN
        if held is V.UNKNOWN or out is V.UNKNOWN:
            return V.UNKNOWN
        out = out | held
    return out


def _key_is(ph: V.Placeholder, key: ast.AST, key_module: Module, project: Project) -> Optional[bool]:
    """Is this feed key ``ph``? None when it may be and we cannot tell (``{flag: ...}`` of unknown value)."""
    if isinstance(key, ast.Constant):
        if isinstance(key.value, str) and ":" in key.value:
            op = key.value.split(":")[0].rsplit("/", 1)[-1]
            return op == ph.tensor_name or (ph.tensor_name is None and op in ph.names)
        return False
    name = key.id if isinstance(key, ast.Name) else key.attr if isinstance(key, ast.Attribute) else None
    if name is not None and name in ph.names:
        return True
    keys = V.possible_values(key, key_module, project)
    if keys is V.UNKNOWN:
        return None if (name is None or _flag_like(name)) else False
    return ph in keys


def _feed_alternatives(expr: ast.AST, module: Module, project: Project, values_of, depth: int) -> Optional[list]:
    if depth > 4:
        return None
    if isinstance(expr, ast.Dict):
        alternatives: list = [[]]
        for k, v in zip(expr.keys, expr.values):
            if k is None:  # ``{**base_feed, is_training: True}``
                inner = _feed_alternatives(v, module, project, values_of, depth + 1)
                if inner is None or len(alternatives) * len(inner) > _MAX_FEED_ALTERNATIVES:
                    return None
                alternatives = [a + b for a in alternatives for b in inner]
            else:
                vals = values_of(v, module, project)
                alternatives = [a + [(k, module, vals)] for a in alternatives]
        return alternatives
    if isinstance(expr, ast.IfExp):
        body = _feed_alternatives(expr.body, module, project, values_of, depth + 1)
        orelse = _feed_alternatives(expr.orelse, module, project, values_of, depth + 1)
        return None if body is None or orelse is None else body + orelse
    if isinstance(expr, ast.Name):
        return _named_feed(expr, module, project, values_of, depth)
    if isinstance(expr, ast.Call):
        return _helper_feed(expr, module, project, depth)
    return None


def _named_feed(expr: ast.Name, module: Module, project: Project, values_of, depth: int) -> Optional[list]:
    """Every display a feed-dict name is bound to in its scope (flow-insensitive: more shapes, never
    fewer); None when the dict is changed in place (``feed[k] = v``, ``feed.update(...)``)."""
    if V._written_through(expr.id, module):
        return None
    res = V.resolver(project)
    found = res.binding_of(expr.id, module, module.scope_of(expr))
    if found is None:
        return None
    out: list = []
    for b in found[0]:
        if b.kind == "expr":
            got = _feed_alternatives(b.expr, module, project, values_of, depth + 1)
        elif b.kind == "param":  # a feed handed in by the callers: the displays they pass
            displays = res._param_dict_displays(b.func, expr.id, module, 0)
            got = None
            if displays:
                got = []
                for d, dm in displays:
                    inner = _feed_alternatives(d, dm, project, V.possible_values, depth + 1)
                    if inner is None:
                        got = None
                        break
                    got.extend(inner)
        else:
            got = None
        if got is None:
            return None
        out.extend(got)
        if len(out) > _MAX_FEED_ALTERNATIVES:
            return None
    return out or None


def _helper_feed(call: ast.Call, module: Module, project: Project, depth: int) -> Optional[list]:
    """The feeds a project helper returns (``make_feed(batch, True)``, ``self.feed_dict(b, False)``),
    its parameters read from this call: a returned display's ``is_training: training`` holds what
    this call passes for ``training`` (or the default)."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if name is None:
        return None
    candidates = [f for f in project.functions(name) if not f.node.decorator_list
                  and (f.cls is None) == isinstance(func, ast.Name)]
    if isinstance(func, ast.Name):
        own = [f for f in candidates if f.module is module]
        candidates = own or [f for f in candidates if project.imports_name_from(module, name, f.module)]
    if len(candidates) != 1:
        return None  # several helpers of that name (or a library's): cannot tell which one runs
    info = candidates[0]
    fn, fm = info.node, info.module
    offset = 1 if info.cls is not None else 0
    if any(isinstance(a, ast.Starred) for a in call.args) or any(kw.arg is None for kw in call.keywords):
        return None

    def values_of(expr: ast.AST, m: Module, p: Project):
        negate = isinstance(expr, ast.UnaryOp) and isinstance(expr.op, ast.Not)
        inner = expr.operand if negate else expr
        if m is fm and isinstance(inner, ast.Name) and m.scope_of(inner) is fn:
            found = V.resolver(p).binding_of(inner.id, m, fn)
            if found is not None and found[1] is fn and [b.kind for b in found[0]] == ["param"]:
                spec = V._param_spec(fn, inner.id)
                if spec is None:
                    return V.UNKNOWN
                arg = V._argument(call, inner.id, spec[0], offset)
                if arg is V._OPAQUE:
                    return V.UNKNOWN
                if arg is None:
                    vals = V.possible_values(spec[1], fm, p) if spec[1] is not None else V.UNKNOWN
                else:
                    vals = V.possible_values(arg, module, p)
                if negate and vals is not V.UNKNOWN:
                    vals = frozenset(V.RUNTIME if isinstance(v, V.MARKERS) else not v for v in vals)
                return vals
        return V.possible_values(expr, m, p)

    returns = [n for n in astwalk.walk(fn) if isinstance(n, ast.Return) and fm.scope_of(n) is fn]
    if not returns or any(r.value is None for r in returns):
        return None
    out: list = []
    for r in returns:
        got = _feed_alternatives(r.value, fm, project, values_of, depth + 1)
        if got is None:
            return None
        out.extend(got)
    return out if len(out) <= _MAX_FEED_ALTERNATIVES else None


# --- attributes of objects of project classes -----------------------------------------------------
# ``training=cfg.is_training``: the value resolver reads ``x.is_training`` as every store of an
# attribute of that name in the project, so a config class's ``is_training = False`` and a model's
# ``self.is_training = tf.placeholder(tf.bool)`` mix and the flag looks fed. Here the receiver is
# followed to the project classes it can be an instance of (a construction ``TrainConfig()``, a
# parameter over every call site, ``self.config`` over the stores of that attribute), and only the
# stores that can reach such an object count: the class bodies along its bases (a subclass's
# override shadows the base's), ``self.attr = ...`` in their methods, ``obj.attr = ...`` /
# ``Config.attr = ...`` on a receiver that may be one of them (or that cannot be resolved), the
# fields a dataclass construction passes. ``setattr(obj, name, v)`` with a computed name,
# ``obj.__dict__`` or ``vars(obj)`` on a receiver that may be one of them, ``__getattr__``, a
# property or method of that name, a base class outside the project: unknown.

_ATTRIBUTELESS_BASES = {"object", "ABC", "Generic", "Protocol"}
_FIELD_INIT_DECORATORS = {"dataclass", "dataclasses.dataclass", "attr.s", "attrs", "attr.attrs", "define",
                          "attr.define", "attrs.define", "frozen", "attrs.frozen", "mutable", "attrs.mutable"}
_DYNAMIC_METHODS = {"__getattr__", "__getattribute__", "__setattr__", "__set_name__"}
_OBJECT_DEPTH = 8


@dataclass
class _ClassIndex:
    by_name: dict  # class name -> [ClassDef]
    module_of: dict  # id(ClassDef) -> Module
    subclasses: dict  # id(ClassDef) -> [direct subclasses]
    body_stores: dict  # (id(ClassDef), attr) -> [value]: class-body ``attr = value``
    stores: dict  # attr -> [(receiver, value or None, Module)]: ``receiver.attr = value`` anywhere
    dynamic: list  # [(receiver, Module)]: setattr with a computed name, ``x.__dict__``, ``vars(x)``


def _class_index(project: Project) -> _ClassIndex:
    def compute(p: Project) -> _ClassIndex:
        idx = _ClassIndex(defaultdict(list), {}, defaultdict(list), defaultdict(list), defaultdict(list), [])
        for m in p.modules:
            for cls in m.classes:
                idx.by_name[cls.name].append(cls)
                idx.module_of[id(cls)] = m
                for stmt in cls.body:
                    targets = stmt.targets if isinstance(stmt, ast.Assign) else (
                        [stmt.target] if isinstance(stmt, ast.AnnAssign) and stmt.value is not None else [])
                    for t in targets:
                        if isinstance(t, ast.Name):
                            idx.body_stores[(id(cls), t.id)].append(stmt.value)
            for kind in (ast.Assign, ast.AnnAssign, ast.AugAssign):
                for node in m.nodes_of_kind.get(kind, ()):
                    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                    value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
                    for t in targets:
                        if isinstance(t, ast.Attribute):
                            idx.stores[t.attr].append((t.value, value, m))
                        elif isinstance(t, (ast.Tuple, ast.List)):
                            for e in astwalk.walk(t):
                                if isinstance(e, ast.Attribute) and isinstance(e.ctx, ast.Store):
                                    idx.stores[e.attr].append((e.value, None, m))
            for c in m.calls:
                node = c.node
                if c.name in ("setattr", "__setattr__") and node.args:
                    receiver = node.args[0]
                    if c.name == "__setattr__" and isinstance(node.func, ast.Attribute) and not (
                            isinstance(node.func.value, ast.Name) and node.func.value.id in ("object", "super")):
                        receiver = node.func.value  # ``obj.__setattr__(name, v)``
                    name = node.args[1] if c.name == "setattr" and len(node.args) > 1 else (
                        node.args[0] if receiver is not node.args[0] else (node.args[1] if len(node.args) > 1 else None))
                    if isinstance(name, ast.Constant) and isinstance(name.value, str):
                        idx.stores[name.value].append((receiver, None, m))
                    else:
                        idx.dynamic.append((receiver, m))
                elif c.name == "vars" and isinstance(node.func, ast.Name) and node.args:
                    idx.dynamic.append((node.args[0], m))
            if m.mentions("__dict__"):
                for node in astwalk.walk(m.tree):
                    if isinstance(node, ast.Attribute) and node.attr == "__dict__":
                        idx.dynamic.append((node.value, m))
        for m in p.modules:
            for cls in m.classes:
                for b in cls.bases:
                    for base in _base_classes(b, idx):
                        idx.subclasses[id(base)].append(cls)
        return idx
    return project.fact("tf1.class_index", compute)


def _base_classes(base: ast.AST, idx: _ClassIndex) -> list:
    if isinstance(base, ast.Subscript):  # Generic[T], Base[T]
        base = base.value
    last = (dotted(base) or "").rsplit(".", 1)[-1]
    return list(idx.by_name.get(last, ()))


def _mro(cls: ast.ClassDef, idx: _ClassIndex, depth: int = 0) -> Optional[list]:
    """``cls`` and its project base classes, nearest first (None: a base outside the project, a
    metaclass, a decorator that may replace the class, or an ambiguous base name)."""
    if depth > 12 or cls.keywords:
        return None
    for d in cls.decorator_list:
        if (dotted(d.func if isinstance(d, ast.Call) else d) or "") not in _FIELD_INIT_DECORATORS:
            return None
    out = [cls]
    for b in cls.bases:
        name = dotted(b.value if isinstance(b, ast.Subscript) else b) or ""
        if name.rsplit(".", 1)[-1] in _ATTRIBUTELESS_BASES:
            continue
        bases = _base_classes(b, idx)
        if len(bases) != 1 or bases[0] is cls:
            return None
        sub = _mro(bases[0], idx, depth + 1)
        if sub is None:
            return None
        out.extend(c for c in sub if c not in out)
    return out


def _nontrivial_bases(cls: ast.ClassDef) -> int:
    return sum(1 for b in cls.bases
               if (dotted(b.value if isinstance(b, ast.Subscript) else b) or "").rsplit(".", 1)[-1]
               not in _ATTRIBUTELESS_BASES)


class _ObjectAttributes:
    """Classes of receivers and the values of their attributes (see the section comment)."""

    def __init__(self, project: Project):
        self.project = project
        self.idx = _class_index(project)
        self.r = V.resolver(project)
        self._active: set = set()
        self._classes_memo: dict = {}
        self._cycles = 0
        self.narrowed = False  # did a value come from a class-aware attribute lookup?
        self.evidence: list = []  # (value, Module) of the stores that gave the flag its values

    # -- classes an expression can be an instance (or the class object) of --------------------------
    def classes(self, e: Optional[ast.AST], m: Module, scope, depth: int = 0) -> Optional[frozenset]:
        if e is None or depth > _OBJECT_DEPTH:
            return None
        key = ("cls", id(e))
        if key in self._classes_memo:
            return self._classes_memo[key]
        if key in self._active:
            self._cycles += 1
            return frozenset()
        self._active.add(key)
        before = self._cycles
        try:
            out = self._classes(e, m, scope, depth)
        finally:
            self._active.discard(key)
        if self._cycles == before and (out is not None or depth == 0):
            self._classes_memo[key] = out  # a result cut short by a cycle or by depth is not final
        return out

    def _classes(self, e: ast.AST, m: Module, scope, depth: int) -> Optional[frozenset]:
        if isinstance(e, ast.Constant):
            return frozenset()
        if isinstance(e, ast.IfExp):
            a = self.classes(e.body, m, scope, depth + 1)
            b = self.classes(e.orelse, m, scope, depth + 1)
            return None if a is None or b is None else a | b
        if isinstance(e, ast.Call):
            q = m.imports.resolve(e.func) or ""
            if q in ("copy.copy", "copy.deepcopy") and e.args:
                return self.classes(e.args[0], m, scope, depth + 1)
            last = (dotted(e.func) or "").rsplit(".", 1)[-1]
            if isinstance(e.func, ast.Name):
                found = self.r.binding_of(last, m, scope)
                if found is not None and any(b.kind != "opaque" and b.kind != "import" for b in found[0]):
                    return None  # a local variable holding a callable
            if last and self.idx.by_name.get(last) and not self.project.functions(last):
                return frozenset(self.idx.by_name[last])
            funcs = [f for f in self.project.functions(last) if f.cls is None] if last else []
            if len(funcs) == 1 and not self.idx.by_name.get(last) and not funcs[0].node.decorator_list:
                return self._returned_classes(funcs[0], depth)  # ``cfg = load_config(path)``
            return None
        if isinstance(e, ast.Name):
            return self._name_classes(e.id, m, scope, depth)
        if isinstance(e, ast.Attribute):
            base = dotted(e.value)
            if base is not None and base.split(".")[0] in m.imports.aliases:
                target = m.imports.resolve(e.value)
                other = self.project.module_named(target, m) if target else None
                if other is None or other is m:
                    return None
                return self._module_name_classes(e.attr, other, depth)
            owners = self.classes(e.value, m, m.scope_of(e), depth + 1)
            if owners is None:
                return None
            sources = self.attribute_sources(owners, e.attr, m)
            if sources is None:
                return None
            out: frozenset = frozenset()
            for value, vm in sources:
                got = self.classes(value, vm, vm.scope_of(value), depth + 1)
                if got is None:
                    return None
                out |= got
            return out
        return None

    def _returned_classes(self, info, depth: int) -> Optional[frozenset]:
        fn, fm = info.node, info.module
        returns = [n for n in astwalk.walk(fn) if isinstance(n, (ast.Return, ast.Yield, ast.YieldFrom))
                   and fm.scope_of(n) is fn]
        if not returns or any(not isinstance(r, ast.Return) or r.value is None for r in returns):
            return None
        out: frozenset = frozenset()
        for r in returns:
            got = self.classes(r.value, fm, fn, depth + 1)
            if got is None:
                return None
            out |= got
        return out

    def _module_name_classes(self, name: str, other: Module, depth: int) -> Optional[frozenset]:
        own = [c for c in other.classes if c.name == name and other.parent(c) is other.tree]
        if own:
            return frozenset(own)
        sb = self.r.scope(other.tree)
        if name not in sb.names:
            return None
        return self._binding_classes(name, sb.names[name], other, None, depth)

    def _name_classes(self, name: str, m: Module, scope, depth: int) -> Optional[frozenset]:
        found = self.r.binding_of(name, m, scope)
        if found is None:
            return None
        return self._binding_classes(name, found[0], m, found[1], depth)

    def _binding_classes(self, name: str, bindings: list, m: Module, owner, depth: int) -> Optional[frozenset]:
        out: frozenset = frozenset()
        for b in bindings:
            if b.kind == "expr":
                got = self.classes(b.expr, m, owner, depth + 1)
            elif b.kind == "param":
                got = self._param_classes(b.func, name, m, depth)
            elif b.kind == "import":
                target = m.imports.aliases.get(name) or ""
                mod_name, _, attr = target.lstrip(".").rpartition(".")
                other = self.project.module_named(mod_name, m) if mod_name else None
                got = None if other is None or other is m else self._module_name_classes(attr, other, depth + 1)
            elif b.kind == "opaque":
                body = owner.body if owner is not None else m.tree.body
                defs = [s for s in body if isinstance(s, ast.ClassDef) and s.name == name]
                got = frozenset(defs) if defs and len(bindings) == 1 else None
            else:
                got = None
            if got is None:
                return None
            out |= got
        return out

    def _with_subclasses(self, cls: ast.ClassDef) -> frozenset:
        out, todo = set(), [cls]
        while todo:
            c = todo.pop()
            if c in out:
                continue
            out.add(c)
            todo.extend(self.idx.subclasses.get(id(c), ()))
        return frozenset(out)

    def _param_classes(self, func: ast.AST, param: str, m: Module, depth: int) -> Optional[frozenset]:
        info = self.r._func_by_node.get(id(func))
        if info is None or isinstance(func, ast.Lambda):
            return None
        positional = [a.arg for a in func.args.posonlyargs + func.args.args]
        decorators = {dotted(d) for d in func.decorator_list}
        if info.cls is not None and positional[:1] == [param] and "staticmethod" not in decorators:
            return self._with_subclasses(info.cls)  # ``self`` / ``cls``: the class or a subclass
        sites = self.call_sites(info, func, m)
        if sites is None:
            return None
        spec = V._param_spec(func, param)
        if spec is None:
            return None
        return self._over_call_sites(sites, func, param, spec, m, depth, self.classes, None)

    def call_sites(self, info, func: ast.AST, m: Module) -> Optional[list]:
        """Every call that can run ``func`` (V's call sites, ``functools.partial``), and for an
        ``__init__`` the constructions of subclasses that inherit it (``TrainConfig(flag=True)`` runs
        ``Config.__init__``). None when the function (or such a subclass) is passed around."""
        for d in func.decorator_list:
            q = m.imports.resolve(d.func if isinstance(d, ast.Call) else d) or dotted(d)
            if q not in V._TRANSPARENT_DECORATORS:
                return None
        is_method = info.cls is not None and "staticmethod" not in {dotted(d) for d in func.decorator_list}
        infos = [info]
        if is_method and info.name == "__init__":
            for sub in self._with_subclasses(info.cls) - {info.cls}:
                chain = _mro(sub, self.idx)
                if chain is None:
                    return None
                first = next((c for c in chain if any(isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef))
                                                      and s.name == "__init__" for s in c.body)), None)
                if first is info.cls:
                    infos.append(dataclasses.replace(info, cls=sub))
        sites: list = []
        for i in infos:
            escapes = self.r._escapes(i, is_method)
            if escapes is V.UNKNOWN:
                return None
            sites.extend(self.r._call_sites(i, is_method))
            sites.extend(escapes)
        return sites or None

    # -- attribute values ---------------------------------------------------------------------------
    def attribute_sources(self, owners: frozenset, attr: str, m: Module) -> Optional[list]:
        """The expressions (with their modules) that can be the value of ``attr`` of an object of
        one of ``owners``; None when unknown."""
        if not owners:
            return None
        related: set = set()
        chains = []
        for cls in owners:
            chain = _mro(cls, self.idx)
            if chain is None:
                return None
            for c in chain:
                for s in c.body:
                    if isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                            s.name in _DYNAMIC_METHODS or s.name == attr):
                        return None
                    if isinstance(s, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                         for t in s.targets):
                        continue
            related.update(chain)
            chains.append(chain)
        out: list = []
        for chain in chains:
            shadow = all(_nontrivial_bases(c) <= 1 for c in chain)
            for c in chain:
                body = self.idx.body_stores.get((id(c), attr))
                if body:
                    out.extend((v, self.idx.module_of[id(c)]) for v in body)
                    if shadow:
                        break
        if any(c.decorator_list for c in related):
            fields = [(v, sm) for v, sm in self.r.init_stores(attr, m)]
            out.extend(fields)
        for receiver, value, sm in self.idx.stores.get(attr, ()):
            got = self.classes(receiver, sm, sm.scope_of(receiver), 1)
            if got is None or got & related:
                out.append((value, sm))
        for receiver, sm in self.idx.dynamic:
            got = self.classes(receiver, sm, sm.scope_of(receiver), 1)
            if got is None or got & related:
                return None
        if any(v is None for v, _ in out):
            return None
        return out or None

    def values(self, e: Optional[ast.AST], m: Module, scope="auto", depth: int = 0):
        """What ``e`` can be, with attributes of project-class objects resolved per class."""
        if e is None:
            return V.UNKNOWN
        if scope == "auto":
            scope = m.scope_of(e)
        if depth > _OBJECT_DEPTH:
            return V.possible_values(e, m, self.project)
        key = ("val", id(e))
        if key in self._active:
            return frozenset()
        self._active.add(key)
        try:
            return self._values(e, m, scope, depth)
        finally:
            self._active.discard(key)

    def _values(self, e: ast.AST, m: Module, scope, depth: int):
        if isinstance(e, ast.Attribute):
            base = dotted(e.value)
            if base is None or base.split(".")[0] not in m.imports.aliases:
                owners = self.classes(e.value, m, scope, depth + 1)
                if owners:
                    sources = self.attribute_sources(owners, e.attr, m)
                    if sources is None:
                        return V.UNKNOWN
                    self.narrowed = True
                    out: frozenset = frozenset()
                    for value, vm in sources:
                        got = self.values(value, vm, "auto", depth + 1)
                        if got is V.UNKNOWN:
                            return V.UNKNOWN
                        if depth == 0 or len(self.evidence) < 3:
                            self.evidence.append((value, vm))
                        out |= got
                    return out
        elif isinstance(e, ast.Name):
            found = self.r.binding_of(e.id, m, scope)
            if found is not None and all(b.kind in ("expr", "param") for b in found[0]):
                out = frozenset()
                for b in found[0]:
                    got = (self.values(b.expr, m, found[1], depth + 1) if b.kind == "expr"
                           else self._param_values(b.func, e.id, m, depth))
                    if got is V.UNKNOWN:
                        return V.UNKNOWN
                    out |= got
                return out
        elif isinstance(e, ast.UnaryOp) and isinstance(e.op, ast.Not):
            got = self.values(e.operand, m, scope, depth + 1)
            if got is V.UNKNOWN or any(isinstance(v, V.MARKERS) for v in got):
                return V.UNKNOWN
            return frozenset(not v for v in got)
        elif isinstance(e, ast.IfExp):
            a = self.values(e.body, m, scope, depth + 1)
            b = self.values(e.orelse, m, scope, depth + 1)
            return V.UNKNOWN if a is V.UNKNOWN or b is V.UNKNOWN else a | b
        elif isinstance(e, ast.Compare) and len(e.ops) == 1 and isinstance(e.ops[0], (ast.Eq, ast.NotEq)):
            left = self.values(e.left, m, scope, depth + 1)
            right = V.possible_values(e.comparators[0], m, self.project)
            if left is V.UNKNOWN or not V.is_constant_set(right) or any(isinstance(v, V.MARKERS) for v in left):
                return V.possible_values(e, m, self.project)
            eq = isinstance(e.ops[0], ast.Eq)
            return frozenset((a == b) == eq for a in left for b in right)
        return V.possible_values(e, m, self.project)

    def _param_values(self, func: ast.AST, param: str, m: Module, depth: int):
        info = self.r._func_by_node.get(id(func))
        if info is None or isinstance(func, ast.Lambda):
            return V.UNKNOWN
        positional = [a.arg for a in func.args.posonlyargs + func.args.args]
        if info.cls is not None and positional[:1] == [param]:
            return V.UNKNOWN
        sites = self.call_sites(info, func, m)
        spec = V._param_spec(func, param)
        if sites is None or spec is None:
            return V.UNKNOWN
        return self._over_call_sites(sites, func, param, spec, m, depth, self.values, V.UNKNOWN)

    @staticmethod
    def _over_call_sites(sites, func: ast.AST, param: str, spec, m: Module, depth: int, resolve, unknown):
        """The union, over every call that runs ``func``, of what ``resolve`` (classes or values)
        gives for the argument bound to ``param`` there (its default where a call leaves it out);
        ``unknown`` as soon as one call's argument is."""
        out: frozenset = frozenset()
        for call, cm, offset, partial in sites:
            arg = V._argument(call, param, spec[0], offset)
            if arg is V._OPAQUE or (arg is None and partial):
                return unknown
            if arg is None:
                if spec[1] is None:
                    continue
                got = resolve(spec[1], m, m.scope_of(func), depth + 1)
            else:
                got = resolve(arg, cm, cm.scope_of(call), depth + 1)
            if got is unknown:
                return unknown
            out |= got
        return out


def object_attribute_values(expr: Optional[ast.AST], module: Module, project: Project):
    """(values, evidence) of a flag expression whose attributes of project-class objects are
    resolved per class (``cfg.is_training`` with ``cfg`` a ``TrainConfig``), or None when no such
    attribute decides it (then the project-wide values are all there is)."""
    if expr is None or not any(isinstance(n, ast.Attribute) for n in astwalk.walk(expr)) and not isinstance(expr, ast.Name):
        return None
    oa = _ObjectAttributes(project)
    vals = oa.values(expr, module)
    if not oa.narrowed or vals is V.UNKNOWN:
        return None
    return vals, oa.evidence
