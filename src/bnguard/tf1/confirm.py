"""Run-time confirmation: one real training step on a copy of the variables, then restore them.

The snapshot covers every variable op in the graph (model weights, moving statistics, optimizer
slots, global_step, Keras 3 variables outside collections). Values are read through existing read
ops and written back by feeding the value input of each variable's existing initializer assign op,
so no op is added to the graph (it may be finalized). If any variable cannot be snapshotted the
step is refused before it runs; if the step raises, everything is restored before re-raising.
"""
from __future__ import annotations

import numpy as np

from bnguard.tf1.graph_index import ancestors

# Ops whose run consumes input that variables cannot give back.
_CONSUMING_TYPES = ("IteratorGetNext", "QueueDequeue", "ReaderRead", "IteratorGetNextSync")


class ConfirmError(RuntimeError):
    """The confirmation step cannot run without risking the user's state."""


class VariableSnapshot:
    """Reads and restores every variable of a graph without adding ops to it."""

    def __init__(self, graph, variable_ops):
        self.graph = graph
        self.readers: list = []
        self.writers: list = []  # (assign op, value tensor to feed)
        missing = []
        for var in variable_ops:
            reader, writer = self._reader(var), self._writer(var)
            if reader is None or writer is None:
                missing.append(var.name)
                continue
            self.readers.append(reader)
            self.writers.append(writer)
        if missing:
            raise ConfirmError(
                "cannot snapshot variable(s) " + ", ".join(missing[:5])
                + (" ..." if len(missing) > 5 else "") + " without changing the graph; not running the step"
            )
        self.names = [v.name for v in variable_ops]

    @staticmethod
    def _reader(var):
        if var.type != "VarHandleOp":
            return var.outputs[0]  # fetching a ref variable returns its value
        candidates = [c for c in var.outputs[0].consumers()
                      if c.type == "ReadVariableOp" and not c.control_inputs]
        candidates.sort(key=lambda c: (not c.name.endswith("/Read/ReadVariableOp"), c.name))
        return candidates[0].outputs[0] if candidates else None

    def _writer(self, var):
        wanted = "AssignVariableOp" if var.type == "VarHandleOp" else "Assign"
        candidates = [c for c in var.outputs[0].consumers()
                      if c.type == wanted and c.inputs[0] is var.outputs[0] and not c.control_inputs
                      and self.graph.is_feedable(c.inputs[1])]
        candidates.sort(key=lambda c: (c.name != var.name + "/Assign", c.name))
        if not candidates:
            return None
        return candidates[0], candidates[0].inputs[1]

    def take(self, session) -> list:
        try:
            return [np.array(v, copy=True) for v in session.run(self.readers)]
        except Exception as exc:
            raise ConfirmError(f"cannot read the variables before the step ({type(exc).__name__}: "
                               f"{str(exc).splitlines()[0]}); are they initialized?") from None

    def restore(self, session, values) -> None:
        # Writers with distinct value tensors can run together; a shared value tensor needs its own run.
        pending = list(zip(self.writers, values))
        while pending:
            batch, rest, fed = [], [], set()
            for (op, value_tensor), value in pending:
                if value_tensor in fed:
                    rest.append(((op, value_tensor), value))
                else:
                    fed.add(value_tensor)
                    batch.append((op, value_tensor, value))
            session.run([op for op, _, _ in batch], feed_dict={t: v for _, t, v in batch})
            pending = rest


def confirm_step(index, session, fetch_ops, feed_dict, results) -> dict:
    """Run the fetches once, compare the moving statistics, restore everything; update ``results``."""
    snapshot = VariableSnapshot(index.graph, index.variable_ops)
    position = {name: i for i, name in enumerate(snapshot.names)}
    before = snapshot.take(session)
    step_error = None
    try:
        session.run(fetch_ops, feed_dict=feed_dict)
        after = [np.array(v, copy=True) for v in session.run(snapshot.readers)]
    except Exception as exc:  # restored below, then reported
        step_error = exc
        after = None
    finally:
        snapshot.restore(session, before)
    restored = snapshot.take(session)
    if not all(_identical(a, b) for a, b in zip(before, restored)):
        raise ConfirmError("variables could not be restored bit-for-bit after the confirmation step")
    if step_error is not None:
        raise step_error

    layers = {layer.scope: layer for layer in index.layers}
    for result in results:
        layer = layers[result.name]
        changed = {kind: not _identical(before[position[var.name]], after[position[var.name]])
                   for kind, var in layer.stats.items()}
        result.data["changed_in_step"] = changed
        static = result.verdict
        result.data["static_verdict"] = static
        if all(changed.values()) and static != "ok":
            result.verdict = "ok"
            result.detail = ("the confirmation step did update the moving statistics, although the "
                             f"graph analysis said {static}: {result.detail}")
        elif not all(changed.values()) and static == "ok":
            still = ", ".join(k for k, c in changed.items() if not c)
            result.verdict = "updates-not-run"
            result.detail = f"the confirmation step left the moving {still} unchanged"
        else:
            result.detail += " (confirmed by one step)"
    consumed = sorted({op.type for op in ancestors(fetch_ops) if op.type.startswith(_CONSUMING_TYPES)})
    meta = {"confirmed": True, "variables_restored": len(snapshot.names)}
    if consumed:
        meta["confirm_note"] = ("the confirmation step consumed one batch from the input pipeline "
                                f"({', '.join(consumed)}); variables were restored")
    return meta


def _identical(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))
