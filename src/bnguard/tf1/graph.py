"""``check_graph``: prove from a TF1 graph whether each BN layer's moving statistics are updated.

A BN layer's moving statistics change in a ``session.run`` only if
(a) an op that updates them exists (the training flag was not folded to a constant False when the
    layer was built),
(b) that op is an ancestor, through data or control inputs, of the fetches, and
(c) the flag gating the update (the predicate of its Switch/If) is True for this feed_dict.
Each layer gets one verdict: ``ok``, ``frozen-constant-flag``, ``updates-not-run``,
``flag-default-false`` or ``orphan-updates``. With ``session=`` and ``confirm=True`` one real step
on a copy of the variables settles it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from bnguard.result import LayerResult, Report
from bnguard.tf1.flag import evaluate_flag, normalize_feed
from bnguard.tf1.graph_index import (
    COND_TYPES,
    BNLayer,
    GraphIndex,
    ancestors,
    is_training_fetch,
    resolve_fetch_ops,
)

__all__ = ["check_graph", "GraphReport", "OK_VERDICTS", "NoTrainOpError"]

OK_VERDICTS = frozenset({"ok"})
# Worst first: the verdict of a layer is the worst of its statistics' verdicts.
_SEVERITY = ["frozen-constant-flag", "orphan-updates", "updates-not-run", "flag-default-false", "ok"]


class NoTrainOpError(ValueError):
    """No fetches were given and the graph has no train op to check."""


@dataclass
class GraphReport(Report):
    """A `Report` of kind ``"tf1-graph"``; ``meta`` holds the fetches checked and notes."""

    @property
    def fetches(self) -> list[str]:
        return list(self.meta.get("fetches", []))


def check_graph(graph=None, fetches=None, feed_dict=None, *, session=None, confirm: bool = False) -> GraphReport:
    """Check that every BN layer used by ``fetches`` gets its moving statistics updated.

    ``graph``: a ``tf.Graph`` (default: the session's graph, else the default graph).
    ``fetches``: what ``session.run`` is given (op, tensor, name, or a nested structure). Without it,
    the ``TRAIN_OP`` collection is used, else the graph's sink ops that apply gradients.
    ``feed_dict``: the feed of that run; decides ``placeholder_with_default`` and fed flags.
    ``session`` + ``confirm=True``: run one step on a copy of every variable, restore them all
    bit-for-bit (also when the step raises) and report which moving statistics really changed.
    """
    from bnguard.tf1.env import import_tf

    tf = import_tf()
    if graph is None:
        graph = session.graph if session is not None else tf.compat.v1.get_default_graph()
    index = GraphIndex(graph)
    if fetches is None:
        fetch_ops = default_train_ops(index)
        if not fetch_ops:
            raise NoTrainOpError(
                "no fetches given and the graph has no train op (empty TRAIN_OP collection and no op "
                "applying gradients); pass fetches= (or --fetch NAME)"
            )
    else:
        fetch_ops = resolve_fetch_ops(graph, fetches)
        if not fetch_ops:
            raise ValueError("fetches is empty")
    fetch_anc = ancestors(fetch_ops)
    reached_by_collections = ancestors(index.collection_roots())
    feeds = normalize_feed(graph, feed_dict)

    results, unused = [], []
    for layer in index.layers:
        if not any(v in fetch_anc for v in layer.variables):
            unused.append(layer.scope)
            continue
        results.append(_judge_layer(index, layer, fetch_anc, reached_by_collections, feeds, session, feed_dict))

    meta = {
        "fetches": [op.name for op in fetch_ops],
        "trains": is_training_fetch(index, fetch_ops, fetch_anc),
        "layers_not_used_by_fetches": unused,
    }
    if confirm:
        if session is None:
            raise ValueError("confirm=True needs session=")
        from bnguard.tf1.confirm import confirm_step

        meta.update(confirm_step(index, session, fetch_ops, feed_dict, results))
    report = GraphReport(kind="tf1-graph", layers=results, ok_verdicts=OK_VERDICTS, meta=meta)
    if not meta["trains"] and results:
        report.summary = report.default_summary() + " (note: these fetches do not train anything)"
    return report


def default_train_ops(index: GraphIndex) -> list:
    """TRAIN_OP collection, else the sinks (ops nothing depends on) that apply gradients."""
    from bnguard.tf1.graph_index import _as_op, is_gradient_apply

    ops = []
    for item in index.graph.get_collection("train_op"):
        op = _as_op(item)
        if op is not None and op not in ops:
            ops.append(op)
    if ops:
        return ops
    # Walk forward from the apply ops; the ops nothing depends on are the train ops.
    seen = {op for op in index.ops if is_gradient_apply(op)}
    stack = list(seen)
    while stack:
        op = stack.pop()
        for nxt in index.consumers(op):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return [op for op in index.ops if op in seen and not index.has_consumers(op)]


def _judge_layer(index, layer: BNLayer, fetch_anc, reached_by_collections, feeds, session, feed_dict) -> LayerResult:
    per_stat = {}
    for kind, var in sorted(layer.stats.items()):
        per_stat[kind] = _judge_stat(index, layer, kind, fetch_anc, reached_by_collections, feeds, session, feed_dict)
    verdict = min((v for v, _, _ in per_stat.values()), key=_SEVERITY.index)
    worst = [k for k, (v, _, _) in per_stat.items() if v == verdict]
    details = [per_stat[k][1] for k in worst]
    if len(worst) > 1:
        one = layer.stats[worst[0]].name.rsplit("/", 1)[-1]
        both = " and ".join(layer.stats[k].name.rsplit("/", 1)[-1] for k in worst)
        details = [d.replace(one, both, 1) for d in details]
    data = {"statistics": {k: layer.stats[k].name for k in layer.stats}}
    for v, _, extra in per_stat.values():
        for key, value in extra.items():
            if key == "update_ops":
                data.setdefault(key, [])
                data[key] += [name for name in value if name not in data[key]]
            else:
                data.setdefault(key, value)
    data["statistic_verdicts"] = {k: v for k, (v, _, _) in per_stat.items()}
    return LayerResult(layer.scope, verdict, details[0], data)


def _judge_stat(index, layer, kind, fetch_anc, reached_by_collections, feeds, session, feed_dict):
    """(verdict, detail, data) for one moving statistic of a layer."""
    var = layer.stats[kind]
    updates = layer.updates.get(kind, [])
    stat = var.name.rsplit("/", 1)[-1]
    if not updates:
        why = _frozen_reason(var)
        return ("frozen-constant-flag",
                f"no op in the graph updates {stat}: the training flag was a constant False when the "
                f"layer was built{why}, so it always normalises with its moving statistics",
                {})
    run = [u for u in updates if u.op in fetch_anc]
    names = [u.op.name for u in updates]
    if not run:
        if not any(u.op in reached_by_collections for u in updates):
            return ("orphan-updates",
                    f"the ops updating {stat} ({', '.join(names)}) are in no collection and nothing "
                    "depends on them (only the layer object knows them, e.g. tf_keras/Keras 3 "
                    "layer.updates); add them to the train op's control dependencies",
                    {"update_ops": names})
        where = " (they are in UPDATE_OPS)" if any(u.op in index.update_ops_ancestors() for u in updates) else ""
        return ("updates-not-run",
                f"the ops updating {stat} ({', '.join(names)}) are not run by the fetches{where}; "
                "wrap the train op in tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS))",
                {"update_ops": names})
    data = {"update_ops": [u.op.name for u in run]}
    unknown = None
    for flag_tensor in _gating_flags(layer, run):
        flag = evaluate_flag(flag_tensor, feeds, session=session, feed_dict=feed_dict)
        if flag.value is None:
            unknown = unknown or flag
            continue
        if flag.value:
            continue
        data["flag"] = flag.name
        if flag.defaults:
            return ("flag-default-false",
                    f"the training flag {flag.name} is a placeholder_with_default(False) that this "
                    f"run does not feed, so {stat} is not updated; feed it True when training",
                    data)
        if flag.fed or flag.other:
            how = "is fed False" if flag.fed and not flag.other else "evaluates to False"
            return ("updates-not-run",
                    f"the training flag {flag.name} {how} in this run, so the update of "
                    f"{stat} is skipped", data)
        return ("frozen-constant-flag",
                f"the training flag {flag.name} is a constant False, so {stat} is never updated", data)
    if unknown is not None:
        data.update(flag=unknown.name, flag_value="unknown")
        note = ("must be fed True when training" if unknown.unfed
                else "is computed at run time and was not evaluated")
        return ("ok", f"{stat} is updated by the fetches; its training flag {unknown.name} {note}", data)
    return ("ok", f"{stat} is updated by the fetches", data)


def _frozen_reason(var) -> str:
    for t in var.outputs:
        for consumer in t.consumers():
            for c in [consumer] + [t2 for out in consumer.outputs for t2 in out.consumers()]:
                if c.type.startswith("FusedBatchNorm"):
                    try:
                        if not c.get_attr("is_training"):
                            return f" ({c.name} is a {c.type} with is_training=False)"
                    except ValueError:
                        pass
    return ""


def _layer_prefixes(layer: BNLayer, update_ops) -> set[str]:
    """Name scopes holding the layer's update ops: its variable scope, and where the ops were built
    (``tower_1/bn1/`` for a reused layer in a tower, ``bn1_1/`` for a second Keras call)."""
    depth = layer.scope.count("/") + 1
    last = layer.scope.rsplit("/", 1)[-1]
    prefixes = {layer.scope + "/"}
    for op in update_ops:
        parts = op.name.split("/")[:-1]
        for i, part in enumerate(parts):
            if part == last or re.fullmatch(re.escape(last) + r"_\d+", part):
                prefixes.add("/".join(parts[:i + 1]) + "/")
                break
        else:
            if len(parts) >= depth:
                prefixes.add("/".join(parts[:depth]) + "/")
    return prefixes


def _gating_flags(layer: BNLayer, run_updates) -> list:
    """Predicates of the Switch/If ops, within the layer's scope, that the updates depend on."""
    prefixes = _layer_prefixes(layer, [u.op for u in run_updates])
    flags: list = []
    seen: set = set()
    stack = [u.op for u in run_updates]
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        if op.type in COND_TYPES:
            _add(flags, op.inputs[0])
            continue
        if op.type in ("Switch", "RefSwitch"):
            _add(flags, op.inputs[1])
            continue
        if op.type in ("Select", "SelectV2") and op.inputs[0].shape.rank == 0:
            _add(flags, op.inputs[0])  # e.g. decay = where(training, momentum, 1.0)
        for t in op.inputs:
            if t.op.name.startswith(tuple(prefixes)):
                stack.append(t.op)
        for c in op.control_inputs:
            if c.name.startswith(tuple(prefixes)):
                stack.append(c)
    return flags


def _add(items: list, tensor) -> None:
    if tensor not in items:
        items.append(tensor)
