"""Structural facts about a TF1 graph that the BN check needs.

Everything here reads the graph and never adds an op to it, so it also works on a finalized graph
(``MonitoredTrainingSession``) and on a graph imported from a ``.meta`` file.

Vocabulary:
- *variable op*: ``VarHandleOp`` (resource variable) or ``VariableV2`` (ref variable).
- *assign op*: an op that writes a variable (``AssignSub``, ``AssignSubVariableOp``, ...).
- *call op*: an op running a function from the graph's function library (control flow v2 ``If``,
  ``While``, ``PartitionedCall``...). Its writes are found by descending into the library.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

VARIABLE_TYPES = frozenset({"VarHandleOp", "VariableV2", "Variable"})
ASSIGN_TYPES = frozenset({
    "Assign", "AssignAdd", "AssignSub",
    "AssignVariableOp", "AssignAddVariableOp", "AssignSubVariableOp",
})
# Ops that forward their first input unchanged (a handle or a ref) — v1 control flow included.
PASS_THROUGH_TYPES = frozenset({"Identity", "RefIdentity", "Enter", "RefEnter", "Switch", "RefSwitch"})
# call op type -> (function attributes, index of the first op input passed as function argument 0)
CALL_TYPES = {
    "If": (("then_branch", "else_branch"), 1),
    "StatelessIf": (("then_branch", "else_branch"), 1),
    "Case": (("branches",), 1),
    "StatelessCase": (("branches",), 1),
    "While": (("body", "cond"), 0),
    "StatelessWhile": (("body", "cond"), 0),
    "PartitionedCall": (("f",), 0),
    "StatefulPartitionedCall": (("f",), 0),
}
COND_TYPES = frozenset({"If", "StatelessIf", "Case", "StatelessCase"})
RESTORE_TYPES = frozenset({"RestoreV2", "Restore", "RestoreSlice"})
# Value sources of an assign that only (re)initialises a variable: initializer, Saver, set_weights.
INIT_VALUE_TYPES = frozenset({
    "Const", "Fill", "Identity", "Placeholder", "PlaceholderWithDefault", "Reshape", "Cast",
    "ZerosLike", "OnesLike", "Shape", "RandomUniform", "RandomStandardNormal", "TruncatedNormal",
    "Mul", "Add", "AddV2", "Sub",
}) | RESTORE_TYPES

# Last name component of a BN moving statistic: tf.layers/tf_keras/Keras 3/contrib/slim/Sonnet use
# moving_mean / moving_variance; hand-written BN in research code often uses pop_/running_/ema_.
_STAT_NAME = re.compile(r"^(moving|running|pop|population|ema)_(mean|var|variance)$")


def is_gradient_apply(op) -> bool:
    """An optimizer's apply op (ApplyAdam, ResourceApplyGradientDescent, ResourceSparseApply...)."""
    t = op.type
    return t.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))


def stat_of(var_name: str) -> tuple[str, str] | None:
    """``(layer scope, "mean" | "variance")`` when ``var_name`` is a BN moving statistic, else None.

    Recognised: ``<scope>/moving_mean`` (and running_/pop_/ema_ spellings); tensorpack's
    ``<scope>/mean/EMA``; and ``tf.train.ExponentialMovingAverage`` shadows of ``tf.nn.moments``
    outputs, ``<scope>/moments/Squeeze{,_1}/ExponentialMovingAverage`` (the classic hand-written BN).
    """
    parts = var_name.split("/")
    m = _STAT_NAME.match(parts[-1])
    if m and len(parts) > 1:
        return "/".join(parts[:-1]), ("mean" if m.group(2) == "mean" else "variance")
    if len(parts) > 2 and parts[-1] == "EMA" and parts[-2] in ("mean", "variance"):
        return "/".join(parts[:-2]), parts[-2]
    if parts[-1] == "ExponentialMovingAverage" and "moments" in parts[:-1]:
        i = len(parts) - 2 - parts[-2::-1].index("moments")
        source = "/".join(parts[i + 1:-1])
        kind = "variance" if source.startswith("Squeeze_1") or "variance" in source else "mean"
        return "/".join(parts[:i]) or "moments", kind
    return None


def variable_of(tensor):
    """The variable op behind a handle/ref tensor, through Identity/Switch/Enter; else None."""
    op = tensor.op
    for _ in range(64):
        if op.type in VARIABLE_TYPES:
            return op
        if op.type in PASS_THROUGH_TYPES and op.inputs:
            op = op.inputs[0].op
            continue
        return None
    return None


def ancestors(roots) -> set:
    """Every op that ``roots`` depend on through data or control inputs (roots included)."""
    seen = set(roots)
    stack = list(seen)
    while stack:
        op = stack.pop()
        for t in op.inputs:
            parent = t.op
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
        for parent in op.control_inputs:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


class FunctionLibrary:
    """Which arguments each library function writes (assigns), memoised, nested calls included."""

    def __init__(self, graph):
        self._graph = graph
        self._defs: dict | None = None  # the whole library, read only if a lookup by name fails
        self._writes: dict[str, frozenset[int]] = {}

    def _definition(self, fname: str):
        """The FunctionDef of ``fname``: from the graph's registry (cheap), else from its GraphDef."""
        try:
            fn = self._graph._get_function(fname)
            # Only functions traced in this process (AtomicFunction) hold a ready FunctionDef; the
            # _DefinedFunction of an imported graph would initialise the runtime to build one.
            if type(fn).__name__ == "AtomicFunction":
                fdef = fn.cached_definition
                if hasattr(fdef, "node_def"):
                    return fdef
        except Exception:  # private API: fall back to the serialized library
            pass
        if self._defs is None:
            self._defs = {f.signature.name: f for f in self._graph.as_graph_def().library.function}
        return self._defs.get(fname)

    def written_args(self, fname: str) -> frozenset[int]:
        if fname in self._writes:
            return self._writes[fname]
        self._writes[fname] = frozenset()  # breaks recursion on recursive functions
        fdef = self._definition(fname)
        if fdef is None:
            return frozenset()
        arg_index = {a.name: i for i, a in enumerate(fdef.signature.input_arg)}
        nodes = {n.name: n for n in fdef.node_def}

        def arg_of(input_name: str):
            name = input_name.lstrip("^").split(":")[0]
            for _ in range(64):
                if name in arg_index:
                    return arg_index[name]
                node = nodes.get(name)
                if node is None or node.op not in PASS_THROUGH_TYPES or not node.input:
                    return None
                name = node.input[0].lstrip("^").split(":")[0]
            return None

        written: set[int] = set()
        for node in fdef.node_def:
            if node.op in ASSIGN_TYPES and node.input:
                idx = arg_of(node.input[0])
                if idx is not None:
                    written.add(idx)
            elif node.op in CALL_TYPES:
                attrs, offset = CALL_TYPES[node.op]
                data_inputs = [i for i in node.input if not i.startswith("^")]
                for callee in _callee_names(node.attr, attrs):
                    for k in self.written_args(callee):
                        if offset + k < len(data_inputs):
                            idx = arg_of(data_inputs[offset + k])
                            if idx is not None:
                                written.add(idx)
        self._writes[fname] = frozenset(written)
        return self._writes[fname]

    def variables_written_by(self, op) -> list:
        """Variable ops that the call op ``op`` writes inside its functions."""
        attrs, offset = CALL_TYPES[op.type]
        out = []
        for callee in _callee_names(op.node_def.attr, attrs):
            for k in self.written_args(callee):
                if offset + k < len(op.inputs):
                    var = variable_of(op.inputs[offset + k])
                    if var is not None and var not in out:
                        out.append(var)
        return out


def _callee_names(attr_map, attrs) -> list[str]:
    names = []
    for a in attrs:
        if a not in attr_map:
            continue
        value = attr_map[a]
        if value.HasField("func"):
            names.append(value.func.name)
        elif value.HasField("list"):
            names.extend(f.name for f in value.list.func)
    return names


@dataclass
class StatUpdate:
    """One op that writes a BN moving statistic, at the top level of the graph."""

    op: object  # the assign op, or the call op whose function assigns
    variable: object  # the variable op written
    via_function: bool = False


@dataclass
class BNLayer:
    """A BN layer found in the graph: its scope, its moving statistics and the ops that update them."""

    scope: str
    stats: dict = field(default_factory=dict)  # "mean"/"variance" -> variable op
    variables: list = field(default_factory=list)  # every variable op under the scope
    updates: dict = field(default_factory=dict)  # "mean"/"variance" -> [StatUpdate]


class GraphIndex:
    """One pass over a graph: variables, BN layers, their update ops, consumers and collections."""

    def __init__(self, graph):
        self.graph = graph
        self.ops = graph.get_operations()
        self.library = FunctionLibrary(graph)
        self._control_consumers: dict | None = None
        self._update_ops_ancestors: set | None = None
        self.trainable_names = {
            getattr(v, "op", v).name for v in graph.get_collection("trainable_variables")
        }
        self.variable_ops = [op for op in self.ops if op.type in VARIABLE_TYPES]
        self.layers = self._find_layers()

    def _find_layers(self) -> list[BNLayer]:
        layers: dict[str, BNLayer] = {}
        for var in self.variable_ops:
            stat = stat_of(var.name)
            if stat is None or var.name in self.trainable_names:
                continue
            scope, kind = stat
            layer = layers.setdefault(scope, BNLayer(scope=scope))
            layer.stats.setdefault(kind, var)
        if not layers:
            return []
        for var in self.variable_ops:
            for scope, layer in layers.items():
                if var.name.startswith(scope + "/"):
                    layer.variables.append(var)
        writers = self._stat_writers({v for layer in layers.values() for v in layer.stats.values()})
        for layer in layers.values():
            for kind, var in layer.stats.items():
                layer.updates[kind] = writers.get(var, [])
        return sorted(layers.values(), key=lambda layer: layer.scope)

    def _stat_writers(self, stat_vars: set) -> dict:
        writers: dict = {}
        for op in self.ops:
            if op.type in ASSIGN_TYPES and op.inputs:
                var = variable_of(op.inputs[0])
                if var in stat_vars and not self._is_reinitialisation(op):
                    writers.setdefault(var, []).append(StatUpdate(op, var))
            elif op.type in CALL_TYPES:
                for var in self.library.variables_written_by(op):
                    if var in stat_vars:
                        writers.setdefault(var, []).append(StatUpdate(op, var, via_function=True))
        return writers

    @staticmethod
    def _is_reinitialisation(assign_op) -> bool:
        """Initializers, Saver restores and set_weights assigns are not moving-average updates.

        A moving-average update reads the batch or the variable itself; an initializer computes
        from constants only, a restore from a RestoreV2 op.
        """
        if len(assign_op.inputs) < 2:
            return True
        seen: set = set()
        stack = [assign_op.inputs[1].op]
        while stack:
            op = stack.pop()
            if op in seen:
                continue
            seen.add(op)
            if op.type in RESTORE_TYPES:
                return True
            if op.type not in INIT_VALUE_TYPES:
                return False  # reads data or a variable: a real update
            stack.extend(t.op for t in op.inputs)
            stack.extend(op.control_inputs)
        return True

    def collection_roots(self) -> list:
        """Ops held by any graph collection (TRAIN_OP, UPDATE_OPS, summaries, ...)."""
        roots = []
        for key in self.graph.get_all_collection_keys():
            for item in self.graph.get_collection(key):
                op = _as_op(item)
                if op is not None and op.graph is self.graph:
                    roots.append(op)
        return roots

    def update_ops_ancestors(self) -> set:
        """Ops that the UPDATE_OPS collection runs (its members hold If outputs or Merges too)."""
        if self._update_ops_ancestors is None:
            members = [_as_op(item) for item in self.graph.get_collection("update_ops")]
            self._update_ops_ancestors = ancestors([op for op in members if op is not None])
        return self._update_ops_ancestors

    def consumers(self, op) -> list:
        """Ops that take ``op``'s outputs as data inputs or ``op`` as a control input."""
        if self._control_consumers is None:
            self._control_consumers = {}
            for consumer in self.ops:
                for c in consumer.control_inputs:
                    self._control_consumers.setdefault(c, []).append(consumer)
        out = list(self._control_consumers.get(op, []))
        for t in op.outputs:
            out.extend(t.consumers())
        return out

    def has_consumers(self, op) -> bool:
        return bool(self.consumers(op))


def _as_op(item):
    """The op behind a collection item or fetch (Operation, Tensor, Variable); None for others."""
    if hasattr(item, "node_def") and hasattr(item, "type"):
        return item
    op = getattr(item, "op", None)
    if op is not None and hasattr(op, "node_def"):
        return op
    return None


def flatten_fetches(fetches) -> list:
    """The leaves of a ``session.run`` fetch structure (lists, tuples, dicts, namedtuples)."""
    out = []
    stack = [fetches]
    while stack:
        f = stack.pop()
        if f is None:
            continue
        if isinstance(f, dict):
            stack.extend(f.values())
        elif isinstance(f, (list, tuple, set, frozenset)):
            stack.extend(f)
        else:
            out.append(f)
    return out


def resolve_fetch_ops(graph, fetches) -> list:
    """Ops of ``fetches`` (ops, tensors, variables, names like 'train_op' or 'loss:0')."""
    ops = []
    for f in flatten_fetches(fetches):
        if isinstance(f, str):
            element = graph.as_graph_element(f, allow_tensor=True, allow_operation=True)
            op = _as_op(element)
        else:
            op = _as_op(f)
            if op is None:
                raise TypeError(f"cannot use {f!r} as a fetch")
            if op.graph is not graph:
                raise ValueError(f"fetch {op.name!r} belongs to another graph")
        if op is not None and op not in ops:
            ops.append(op)
    return ops


def is_training_fetch(index: GraphIndex, fetch_ops, fetch_ancestors=None) -> bool:
    """Do these fetches train: a TRAIN_OP member, an optimizer apply op, or a write to a trainable
    variable among their ancestors?"""
    train_ops = {_as_op(t) for t in index.graph.get_collection("train_op")}
    if any(op in train_ops for op in fetch_ops):
        return True
    anc = fetch_ancestors if fetch_ancestors is not None else ancestors(fetch_ops)
    if any(is_gradient_apply(op) for op in anc):
        return True
    for op in anc:
        if op.type in ASSIGN_TYPES and op.inputs:
            var = variable_of(op.inputs[0])
            if var is not None and var.name in index.trainable_names and not GraphIndex._is_reinitialisation(op):
                return True
    return False
